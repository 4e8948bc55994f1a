"""Errors of video sampling: each says, in one line, what is wrong and with which file or setting."""

from __future__ import annotations


class SamplingError(ValueError):
    """Sampling cannot run as asked: a bad setting, input, first frame, or model combination."""


class FirstFrameError(SamplingError):
    """A first frame cannot be produced: unreadable image, unknown source, or a text-to-image model that
    cannot be loaded or run."""
