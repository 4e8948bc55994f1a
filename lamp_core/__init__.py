"""lamp: few-shot motion learning (LAMP) for video generation."""

__version__ = "0.1.0"
