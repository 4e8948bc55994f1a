"""Writing generated videos as a sample folder (the contract between the generate and evaluate stages).

`data/samples/<motion>/<variant>/` holds, per video, `<video_id>.mp4` (H.264), `<video_id>.gif` and
`first_frames/<video_id>.png`; for all videos `videos.safetensors` (exact uint8 (T, H, W, 3) frames, key
= video_id), `contact_sheet.png` and `index.csv` (paths relative to the folder).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from safetensors.numpy import save_file

from lamp_core.errors import LampError
from lamp_core.paths import SAMPLE_INDEX_FILE, SAMPLE_VIDEOS_FILE
from lamp_core.video import write_video

from .contact_sheet import contact_sheet
from .first_frame import FirstFrame

CONTACT_SHEET_FILE = "contact_sheet.png"
FIRST_FRAMES_DIR = "first_frames"
INDEX_COLUMNS = (
    "video_id",
    "prompt",
    "negative_prompt",
    "seed",
    "first_frame_source",
    "first_frame_png",
    "scene_json",
    "mp4",
    "gif",
    "n_frames",
    "fps",
    "width",
    "height",
)


@dataclass(frozen=True)
class GeneratedVideo:
    """One generated video and what it was generated from; frames are uint8 (T, H, W, 3)."""

    video_id: str
    prompt: str
    negative_prompt: str
    seed: int
    first_frame: FirstFrame
    frames: np.ndarray


def write_sample_folder(folder: str | Path, videos: Sequence[GeneratedVideo], fps: float) -> Path:
    """Write `videos` into `folder` (created) as the sample-folder contract says; returns the folder."""
    folder = Path(folder)
    if not videos:
        raise LampError(f"{folder}: no videos to write")
    ids = [video.video_id for video in videos]
    if len(set(ids)) != len(ids):
        raise LampError(f"{folder}: video ids are not unique: {ids}")
    (folder / FIRST_FRAMES_DIR).mkdir(parents=True, exist_ok=True)
    rows = []
    for video in videos:
        frames = np.ascontiguousarray(video.frames)
        png = f"{FIRST_FRAMES_DIR}/{video.video_id}.png"
        Image.fromarray(video.first_frame.image).save(folder / png)
        write_video(frames, folder / f"{video.video_id}.mp4", fps)
        write_video(frames, folder / f"{video.video_id}.gif", fps)
        rows.append(
            {
                "video_id": video.video_id,
                "prompt": video.prompt,
                "negative_prompt": video.negative_prompt,
                "seed": video.seed,
                "first_frame_source": video.first_frame.source,
                "first_frame_png": png,
                "scene_json": video.first_frame.scene_json,
                "mp4": f"{video.video_id}.mp4",
                "gif": f"{video.video_id}.gif",
                "n_frames": frames.shape[0],
                "fps": fps,
                "width": frames.shape[2],
                "height": frames.shape[1],
            }
        )
    save_file(
        {video.video_id: np.ascontiguousarray(video.frames) for video in videos},
        str(folder / SAMPLE_VIDEOS_FILE),
    )
    sheet = contact_sheet([video.frames for video in videos], [f"{v.video_id}: {v.prompt}" for v in videos])
    Image.fromarray(sheet).save(folder / CONTACT_SHEET_FILE)
    with (folder / SAMPLE_INDEX_FILE).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=INDEX_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return folder
