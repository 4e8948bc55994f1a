"""Reading a generate stage's sample folder `data/samples/<motion>/<variant>/` (the contract with generate).

The folder holds `index.csv` (one row per video) and `videos.safetensors` (the exact uint8 frames
(T, H, W, 3) of every video, key = video_id), plus each video's MP4 and GIF and its first frame as PNG.
Paths in `index.csv` are relative to the folder.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from lamp_core.errors import LampError
from lamp_core.paths import SAMPLE_INDEX_COLUMNS as INDEX_COLUMNS
from lamp_core.paths import SAMPLE_INDEX_FILE, SAMPLE_VIDEOS_FILE
from lamp_core.paths import SAMPLE_VARIANTS as VARIANTS
from lamp_core.synthetic import Scene


@dataclass(frozen=True)
class SampleVideo:
    """One generated video with what it was generated from."""

    video_id: str
    prompt: str
    seed: int
    first_frame_source: str
    frames: np.ndarray
    """uint8 (T, H, W, 3): the exact frames, free of codec loss."""
    first_frame: np.ndarray | None
    """uint8 (H, W, 3): the first frame the model was given, None when the index names no PNG."""
    scene: Scene | None
    """The renderer's scene when the first frame was rendered: its `render_clip` is the true continuation."""
    gif: Path | None
    fps: float


@dataclass(frozen=True)
class SampleSet:
    """The videos of one variant (`tuned` or `untuned`) of one motion, in index order."""

    variant: str
    folder: Path
    videos: tuple[SampleVideo, ...]

    def by_id(self) -> dict[str, SampleVideo]:
        """The videos keyed by video_id."""
        return {video.video_id: video for video in self.videos}


def load_sample_set(folder: str | Path, variant: str) -> SampleSet:
    """Read `folder` (index.csv + videos.safetensors); LampError names the file and what is wrong."""
    folder = Path(folder)
    if not folder.is_dir():
        raise LampError(folder, f"no {variant} samples here (run the generate stage first)")
    rows = _read_index(folder / SAMPLE_INDEX_FILE)
    frames = _read_videos(folder / SAMPLE_VIDEOS_FILE)
    videos = tuple(_sample_video(folder, row, frames) for row in rows)
    return SampleSet(variant=variant, folder=folder, videos=videos)


def _read_index(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in INDEX_COLUMNS if c not in (reader.fieldnames or ())]
            if missing:
                raise LampError(path, f"missing column(s) {', '.join(missing)}")
            # Short rows leave fields as None; treat them as empty so checks below name the column.
            rows = [{column: row.get(column) or "" for column in INDEX_COLUMNS} for row in reader]
    except FileNotFoundError:
        raise LampError(path, "no index.csv (run the generate stage first)") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LampError(path, f"cannot read the index ({exc})") from None
    if not rows:
        raise LampError(path, "lists no videos")
    ids = [row["video_id"] for row in rows]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise LampError(path, f"video_id(s) listed twice: {', '.join(duplicates)}")
    return rows


def _read_videos(path: Path) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        return load_file(str(path))
    except FileNotFoundError:
        raise LampError(path, "no videos.safetensors (run the generate stage first)") from None
    except (OSError, SafetensorError, ValueError) as exc:
        raise LampError(path, f"cannot read the videos ({exc})") from None


def _sample_video(folder: Path, row: dict[str, str], frames: dict[str, np.ndarray]) -> SampleVideo:
    index, videos = folder / SAMPLE_INDEX_FILE, folder / SAMPLE_VIDEOS_FILE
    video_id = row["video_id"]
    if video_id not in frames:
        raise LampError(videos, f"no tensor for video_id {video_id!r} listed in {SAMPLE_INDEX_FILE}")
    video = frames[video_id]
    if video.dtype != np.uint8 or video.ndim != 4 or video.shape[-1] != 3 or video.shape[0] < 2:
        raise LampError(
            videos, f"{video_id}: expected uint8 frames (T >= 2, H, W, 3), got {video.dtype} {video.shape}"
        )
    try:
        seed = int(row["seed"])
        fps = float(row["fps"])
        declared = (int(row["n_frames"]), int(row["height"]), int(row["width"]))
    except (TypeError, ValueError) as exc:
        raise LampError(
            index, f"{video_id}: seed, fps, n_frames, width and height must be numbers ({exc})"
        ) from None
    if declared != video.shape[:3]:
        raise LampError(
            index,
            f"{video_id}: declares {declared[0]} frames of {declared[2]}x{declared[1]} but "
            f"{SAMPLE_VIDEOS_FILE} holds {video.shape[0]} of {video.shape[2]}x{video.shape[1]}",
        )
    return SampleVideo(
        video_id=video_id,
        prompt=row["prompt"],
        seed=seed,
        first_frame_source=row["first_frame_source"],
        frames=video,
        first_frame=_read_png(folder / row["first_frame_png"]) if row["first_frame_png"] else None,
        scene=_parse_scene(index, video_id, row["scene_json"]),
        gif=folder / row["gif"] if row["gif"] else None,
        fps=fps,
    )


def _read_png(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except FileNotFoundError:
        raise LampError(path, "first frame listed in index.csv does not exist") from None
    except (OSError, UnidentifiedImageError) as exc:
        raise LampError(path, f"cannot read the first frame ({exc})") from None


def _parse_scene(index: Path, video_id: str, text: str) -> Scene | None:
    if not text.strip():
        return None
    try:
        return Scene.from_dict(json.loads(text))
    except (json.JSONDecodeError, LampError) as exc:
        raise LampError(index, f"{video_id}: scene_json is not a renderer scene ({exc})") from None


def load_motion_samples(samples_dir: str | Path) -> dict[str, SampleSet]:
    """Both variants of a motion's samples, checked to be comparable: the same videos (video_id), each
    with the same prompt, seed and first frame source in `tuned` and `untuned`, all of one size."""
    samples_dir = Path(samples_dir)
    sets = {variant: load_sample_set(samples_dir / variant, variant) for variant in VARIANTS}
    tuned, untuned = (sets[variant].by_id() for variant in VARIANTS)
    index = samples_dir / "untuned" / SAMPLE_INDEX_FILE
    if set(tuned) != set(untuned):
        only = sorted(set(tuned) ^ set(untuned))
        raise LampError(
            index, f"tuned and untuned list different videos ({', '.join(only)}); re-run the generate stage"
        )
    for video_id, video in untuned.items():
        reference = tuned[video_id]
        for field in ("prompt", "seed", "first_frame_source"):
            if getattr(video, field) != getattr(reference, field):
                raise LampError(
                    index,
                    f"{video_id}: {field} {getattr(video, field)!r} differs from the tuned model's "
                    f"{getattr(reference, field)!r}; the variants must share prompts, seeds and first frames",
                )
    sizes = {video.frames.shape[1:3] for sample_set in sets.values() for video in sample_set.videos}
    if len(sizes) > 1:
        listed = ", ".join(f"{w}x{h}" for h, w in sorted(sizes))
        raise LampError(samples_dir, f"videos of different sizes ({listed}); re-run the generate stage")
    return sets
