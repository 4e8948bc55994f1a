"""Errors of the LAMP video model: each names the thing at fault and the reason."""

from __future__ import annotations


class ModelError(ValueError):
    """Base class of every error raised by `lamp_core.model`."""


class BaseModelError(ModelError):
    """A base model that is missing, unreadable, not SD 1.x, or of the wrong shape."""


class InflationError(ModelError):
    """A UNet that cannot be inflated, or an inflated UNet used the wrong way (tensor layout, patterns)."""


class MotionArtifactError(ModelError):
    """A motion artifact that is missing, malformed, or does not fit the model it is loaded onto."""
