"""Contact sheets: many videos on one image, one row per video, frames left to right."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

_LABEL_HEIGHT = 14
_GAP = 2
_BACKGROUND = (255, 255, 255)
_INK = (20, 20, 20)


def contact_sheet(
    videos: Sequence[np.ndarray],
    labels: Sequence[str] | None = None,
    *,
    max_frames: int = 16,
    min_frame_height: int = 64,
) -> np.ndarray:
    """One row per video (uint8 (T, H, W, 3), all of one size): up to `max_frames` frames evenly spread
    over the video, each frame enlarged (nearest neighbour, integer factor) to at least `min_frame_height`
    pixels, and the row's label written above it. Returns a uint8 (height, width, 3) image."""
    if not videos:
        raise ValueError("a contact sheet needs at least one video")
    sizes = {np.asarray(video).shape[1:] for video in videos}
    if len(sizes) != 1:
        raise ValueError(f"videos of a contact sheet must share one frame size, got {sorted(sizes)}")
    if labels is not None and len(labels) != len(videos):
        raise ValueError(f"{len(videos)} videos but {len(labels)} labels")
    height, width, _ = sizes.pop()
    factor = max(1, -(-min_frame_height // height))
    columns = min(max(len(video) for video in videos), max_frames)
    label_height = _LABEL_HEIGHT if labels is not None else 0
    row_height = label_height + height * factor + _GAP
    sheet = np.full((row_height * len(videos), columns * (width * factor + _GAP), 3), _BACKGROUND, np.uint8)
    for row, video in enumerate(videos):
        video = np.asarray(video)
        picks = np.linspace(0, len(video) - 1, min(columns, len(video))).round().astype(int)
        strip = video[picks].repeat(factor, axis=1).repeat(factor, axis=2)  # (n, H*f, W*f, 3)
        strip = np.pad(strip, ((0, 0), (0, 0), (0, _GAP), (0, 0)), constant_values=255)
        strip = strip.transpose(1, 0, 2, 3).reshape(height * factor, -1, 3)
        top = row * row_height + label_height
        sheet[top : top + height * factor, : strip.shape[1]] = strip
    image = Image.fromarray(sheet)
    if labels is not None:
        draw, font = ImageDraw.Draw(image), ImageFont.load_default()
        for row, label in enumerate(labels):
            draw.text((2, row * row_height + 1), label, fill=_INK, font=font)
    return np.asarray(image)
