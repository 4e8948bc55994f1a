"""The built-in example motions: rendered procedurally into a raw folder as real H.264 MP4 files.

Each example is `n_clips` videos of one motion of `lamp_core.synthetic` (a shape moving on a
background), deterministic from `seed`, plus a sidecar `captions.csv` (`file,caption`) describing each
scene. They are raw input like a user's videos: larger than the training size, so ingest really
resizes and crops them.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lamp_core.atomic_write import replacing
from lamp_core.data.captions import SIDECAR_NAME
from lamp_core.errors import LampError
from lamp_core.video import write_video


@dataclass(frozen=True)
class ExampleSpec:
    """One built-in example motion: which motion, how many clips, of what size, from which seed."""

    motion: str
    n_clips: int
    n_frames: int
    width: int
    height: int
    fps: float
    seed: int

    @classmethod
    def from_params(cls, params: dict[str, Any], name: str) -> ExampleSpec:
        """The entry `examples.<name>` of params.yaml."""
        examples = params.get("examples") or {}
        if name not in examples:
            known = ", ".join(sorted(examples)) or "none"
            raise LampError(f"params.yaml: no example named {name!r} under `examples:` (declared: {known})")
        entry = examples[name] or {}
        try:
            spec = cls(
                motion=str(entry.get("motion", name)),
                n_clips=int(entry["n_clips"]),
                n_frames=int(entry["n_frames"]),
                width=int(entry["width"]),
                height=int(entry["height"]),
                fps=float(entry["fps"]),
                seed=int(entry["seed"]),
            )
        except KeyError as exc:
            raise LampError(f"params.yaml: examples.{name} lacks {exc.args[0]}") from None
        except (TypeError, ValueError) as exc:
            raise LampError(f"params.yaml: examples.{name}: {exc}") from None
        if min(spec.n_clips, spec.n_frames, spec.width, spec.height) < 1 or spec.fps <= 0:
            raise LampError(f"params.yaml: examples.{name}: counts, sizes and fps must be positive")
        return spec


def example_file_name(motion: str, index: int) -> str:
    """Name of the `index`-th rendered clip: `<motion>_000.mp4`, ..."""
    return f"{motion}_{index:03d}.mp4"


def render_examples(spec: ExampleSpec, out_dir: str | Path) -> list[Path]:
    """Render `spec` into `out_dir` (clips + captions.csv); return the clip paths.

    The folder may hold only files this function writes: anything else (a user's own videos) makes it
    refuse with LampError rather than mix or delete them.
    """
    from lamp_core.synthetic import MOTIONS, render_clip, sample_scene

    out_dir = Path(out_dir)
    if spec.motion not in MOTIONS:
        raise LampError(out_dir, f"no built-in motion {spec.motion!r} (built in: {', '.join(MOTIONS)})")
    _check_only_ours(out_dir, spec.motion)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(spec.seed)
    paths, captions = [], []
    for index in range(spec.n_clips):
        scene = sample_scene(spec.motion, rng, spec.width, spec.height)
        frames = render_clip(scene, spec.n_frames, spec.width, spec.height)
        paths.append(write_video(frames, out_dir / example_file_name(spec.motion, index), spec.fps))
        captions.append(scene.caption)
    for stale in set(_our_clips(out_dir, spec.motion)) - set(paths):
        stale.unlink()
    with (
        replacing(out_dir / SIDECAR_NAME) as partial,
        partial.open("w", encoding="utf-8", newline="") as handle,
    ):
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("file", "caption"))
        writer.writerows((path.name, caption) for path, caption in zip(paths, captions, strict=True))
    return paths


def _our_clips(out_dir: Path, motion: str) -> list[Path]:
    pattern = re.compile(re.escape(motion) + r"_\d{3}\.mp4")
    return [path for path in out_dir.iterdir() if pattern.fullmatch(path.name)]


def _check_only_ours(out_dir: Path, motion: str) -> None:
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise LampError(out_dir, "exists and is not a folder")
    ours = {path.name for path in _our_clips(out_dir, motion)} | {SIDECAR_NAME}
    foreign = sorted(
        path.name
        for path in out_dir.iterdir()
        if path.name not in ours and not path.name.endswith(".partial")
    )
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise LampError(
            out_dir,
            f"holds files the example renderer did not write ({shown}); move them, or give your "
            "own motion another name than a built-in example",
        )
