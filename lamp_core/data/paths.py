"""Where a motion's data lives: `data/raw/<motion>/`, `data/clips/<motion>/`, `data/frames/<motion>/`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lamp_core.errors import LampError

# Motion names become folder names: keep them to plain, portable characters.
_MOTION_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class MotionPaths:
    """The folders of one motion: user videos (raw), normalised clips, and the frame cache."""

    raw: Path
    clips: Path
    frames: Path


def motion_paths(name: str, data_dir: str | Path = "data") -> MotionPaths:
    """The folders of motion `name` under `data_dir`; LampError for a name unfit for a folder."""
    if not _MOTION_NAME.fullmatch(name) or ".." in name:
        raise LampError(
            f"params.yaml: motion name {name!r} must be letters, digits, '_', '.' or '-', "
            "not starting with '-' or '.'"
        )
    data_dir = Path(data_dir)
    return MotionPaths(
        raw=data_dir / "raw" / name, clips=data_dir / "clips" / name, frames=data_dir / "frames" / name
    )
