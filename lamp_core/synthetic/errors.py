"""The error raised for invalid synthetic scenes."""


class SceneError(ValueError):
    """A scene names an unknown motion, shape or colour, or its fields are malformed."""
