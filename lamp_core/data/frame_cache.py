"""The frame cache: every frame of a motion's normalised clips, decoded once, for training to read fast.

Layout of `data/frames/<motion>/` (the contract training reads):
- `clips.safetensors`: one uint8 tensor per clip, keys `clip_0000`, `clip_0001`, ..., shape (T, H, W, 3)
  RGB at the motion's W x H and fps (metadata: motion, fps, width, height);
- `captions.csv`: columns `clip,caption`;
- `index.csv`: columns `clip,source,n_frames` (`source`: the raw file, as in the ingest manifest).
Training samples its windows (n_frames frames, stride sample_rate) from these whole clips.
"""

from __future__ import annotations

import csv
import json
import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lamp_core.atomic_write import replacing
from lamp_core.data.captions import CaptionSpec
from lamp_core.data.ingest import RECOMMENDED_CLIPS, read_manifest
from lamp_core.errors import LampError, VideoError
from lamp_core.params import MotionConfig
from lamp_core.paths import MANIFEST_FILE
from lamp_core.video import read_video

logger = logging.getLogger(__name__)

CLIPS_FILE = "clips.safetensors"
CAPTIONS_FILE = "captions.csv"
INDEX_FILE = "index.csv"

# uint8 images (N, H, W, 3) -> N captions; built from `CaptionSpec.captioner` for model captions.
Captioner = Callable[[np.ndarray], list[str]]


@dataclass(frozen=True)
class FrameCache:
    """A motion's cached clips with their captions and sources, keyed `clip_0000`, `clip_0001`, ..."""

    clips: dict[str, np.ndarray]
    captions: dict[str, str]
    sources: dict[str, str]
    fps: float
    width: int
    height: int


def clip_key(index: int) -> str:
    """The cache key of the clip at `index`: `clip_0000`, `clip_0001`, ..."""
    return f"clip_{index:04d}"


def build_frame_cache(
    clips_dir: str | Path,
    frames_dir: str | Path,
    motion: MotionConfig,
    captions: CaptionSpec,
    captioner: Captioner | None = None,
) -> FrameCache:
    """Decode the clips listed in `clips_dir/manifest.csv`, caption them, and write the cache to `frames_dir`.

    Clips that do not decode or are shorter than one training window are skipped with a warning.
    Raises LampError when fewer than `motion.min_clips` remain (nothing is written then), and
    LampError when captions cannot be made. `captioner` replaces the model named by `captions`
    (for tests and callers that already hold one).
    """
    clips_dir, frames_dir = Path(clips_dir), Path(frames_dir)
    clips, sources, sidecar = _decode_clips(clips_dir, motion)
    if len(clips) < motion.min_clips:
        raise LampError(
            clips_dir, f"only {len(clips)} usable clip(s); at least min_clips={motion.min_clips} are needed"
        )
    if len(clips) < RECOMMENDED_CLIPS:
        logger.warning("%s: only %d clips; the method wants %d-16", clips_dir, len(clips), RECOMMENDED_CLIPS)
    texts = _captions(clips_dir, motion, captions, captioner, clips, sidecar)
    keys = [clip_key(i) for i in range(len(clips))]
    cache = FrameCache(
        clips=dict(zip(keys, clips, strict=True)),
        captions=dict(zip(keys, texts, strict=True)),
        sources=dict(zip(keys, sources, strict=True)),
        fps=motion.fps,
        width=motion.width,
        height=motion.height,
    )
    _write(frames_dir, cache, motion.name)
    return cache


def load_frame_cache(frames_dir: str | Path) -> FrameCache:
    """Read a cache written by `build_frame_cache`; LampError names the file and the problem."""
    from safetensors import SafetensorError, safe_open

    frames_dir = Path(frames_dir)
    path = frames_dir / CLIPS_FILE
    try:
        with safe_open(str(path), framework="np") as handle:
            meta = handle.metadata() or {}
            clips = {key: handle.get_tensor(key) for key in sorted(handle.keys())}
        captions = _read_two_columns(frames_dir / CAPTIONS_FILE, "clip", "caption")
        index = _read_two_columns(frames_dir / INDEX_FILE, "clip", "source")
        fps, width, height = float(meta["fps"]), int(meta["width"]), int(meta["height"])
    except FileNotFoundError as exc:
        raise LampError(frames_dir, f"no frame cache ({Path(exc.filename or path).name} missing)") from None
    except (OSError, SafetensorError, KeyError, ValueError) as exc:
        raise LampError(path, f"cannot read the frame cache ({exc})") from None
    if set(captions) != set(clips) or set(index) != set(clips):
        raise LampError(frames_dir, "clips, captions.csv and index.csv list different clips")
    return FrameCache(clips=clips, captions=captions, sources=index, fps=fps, width=width, height=height)


def _decode_clips(clips_dir: Path, motion: MotionConfig) -> tuple[list[np.ndarray], list[str], list[str]]:
    """Frames, source file and sidecar caption of every usable clip, in manifest order."""
    window = (motion.n_frames - 1) * motion.sample_rate + 1
    frames, sources, sidecar = [], [], []
    for row in read_manifest(clips_dir / MANIFEST_FILE):
        for name in row.clips if row.ok else []:
            path = clips_dir / name
            try:
                clip = read_video(path)
            except VideoError as exc:
                logger.warning("skipped %s: %s", path, exc.reason)
                continue
            if clip.shape[1:3] != (motion.height, motion.width):
                raise LampError(
                    path,
                    f"clip is {clip.shape[2]}x{clip.shape[1]} but motion {motion.name!r} is "
                    f"{motion.width}x{motion.height}: re-run the ingest stage",
                )
            if len(clip) < window:
                logger.warning("skipped %s: %d frames, one training window needs %d", path, len(clip), window)
                continue
            frames.append(clip)
            sources.append(row.source)
            sidecar.append(row.caption)
    return frames, sources, sidecar


def _captions(
    clips_dir: Path,
    motion: MotionConfig,
    spec: CaptionSpec,
    captioner: Captioner | None,
    clips: list[np.ndarray],
    sidecar: list[str],
) -> list[str]:
    if spec.source == "prompt":
        return [motion.prompt] * len(clips)
    if spec.source == "sidecar":
        if not any(sidecar):
            raise LampError(
                clips_dir / MANIFEST_FILE,
                "caption_source is sidecar, but no input file has a caption "
                "(put captions.csv with columns file,caption in the motion's raw folder)",
            )
        texts = list(sidecar)
    else:
        if captioner is None:
            from lamp_core.data.captions import ImageCaptioner

            captioner = ImageCaptioner(spec.captioner or "")
        texts = list(captioner(np.stack([clip[len(clip) // 2] for clip in clips])))
        if len(texts) != len(clips):
            raise LampError(clips_dir, f"the captioner returned {len(texts)} captions for {len(clips)} clips")
    missing = [i for i, text in enumerate(texts) if not text.strip()]
    if missing:
        logger.warning(
            "%d clip(s) have no %s caption; they get the motion's prompt", len(missing), spec.source
        )
    return [text.strip() or motion.prompt for text in texts]


def _write(frames_dir: Path, cache: FrameCache, motion: str) -> None:
    frames_dir.mkdir(parents=True, exist_ok=True)
    metadata = {
        "motion": motion,
        "fps": f"{cache.fps:g}",
        "width": f"{cache.width}",
        "height": f"{cache.height}",
    }
    with replacing(frames_dir / CLIPS_FILE) as partial:
        write_uint8_safetensors(partial, cache.clips, metadata)
    _write_rows(frames_dir / CAPTIONS_FILE, ("clip", "caption"), cache.captions.items())
    n_frames = {key: len(clip) for key, clip in cache.clips.items()}
    _write_rows(
        frames_dir / INDEX_FILE,
        ("clip", "source", "n_frames"),
        [(key, source, n_frames[key]) for key, source in cache.sources.items()],
    )


def write_uint8_safetensors(path: Path, tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    """Write uint8 arrays as a safetensors file whose bytes depend only on the arrays and metadata.

    The safetensors library writes its metadata in hash-map order, which changes from run to run; a
    re-run must give identical bytes (DVC would otherwise see a changed output), so the header is
    written here with sorted keys. Layout: u64 little-endian header size, JSON header padded with
    spaces to 8 bytes, then the tensors' bytes back to back in key order.
    """
    header: dict[str, object] = {"__metadata__": dict(sorted(metadata.items()))}
    offset = 0
    for key in sorted(tensors):
        array = tensors[key]
        if array.dtype != np.uint8:
            raise TypeError(f"{key}: expected uint8, got {array.dtype}")
        span = [offset, offset + array.nbytes]
        header[key] = {"dtype": "U8", "shape": list(array.shape), "data_offsets": span}
        offset += array.nbytes
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)
    with path.open("wb") as handle:
        handle.write(struct.pack("<Q", len(encoded)))
        handle.write(encoded)
        for key in sorted(tensors):
            handle.write(np.ascontiguousarray(tensors[key]).tobytes())


def _write_rows(path: Path, header: tuple[str, ...], rows) -> None:
    with replacing(path) as partial, partial.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _read_two_columns(path: Path, key: str, value: str) -> dict[str, str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return {record[key]: record[value] for record in csv.DictReader(handle)}
