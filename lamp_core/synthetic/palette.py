"""Named colours of the synthetic scenes: bright object colours, muted background colours."""

from __future__ import annotations

import numpy as np

OBJECT_COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "orange": (245, 140, 30),
    "yellow": (240, 220, 40),
    "green": (50, 190, 70),
    "cyan": (40, 200, 220),
    "blue": (50, 90, 230),
    "purple": (150, 60, 210),
    "pink": (240, 120, 190),
    "white": (240, 240, 240),
}

BACKGROUND_COLORS: dict[str, tuple[int, int, int]] = {
    "black": (15, 15, 15),
    "dark blue": (20, 30, 85),
    "dark green": (20, 65, 35),
    "brown": (95, 60, 30),
    "gray": (110, 110, 110),
    "beige": (225, 210, 175),
}

# An object colour and a background are only paired when they are this far apart in RGB, so the object
# is always clearly visible (and its mask recoverable by colour).
MIN_CONTRAST = 140.0


def contrasting_backgrounds(color: str) -> list[str]:
    """Names of the backgrounds an object of colour `color` may be drawn on, in palette order."""
    rgb = np.asarray(OBJECT_COLORS[color], dtype=np.float64)
    return [
        name
        for name, bg in BACKGROUND_COLORS.items()
        if np.linalg.norm(rgb - np.asarray(bg, dtype=np.float64)) >= MIN_CONTRAST
    ]
