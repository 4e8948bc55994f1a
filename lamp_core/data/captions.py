"""Captions of training clips: where they come from, and the sidecar `captions.csv` of a raw folder.

Three sources, chosen by `frames.caption_source` in params.yaml (a motion may override it):
- `prompt`: every clip gets the motion's prompt (the original method: one prompt per motion);
- `sidecar`: the raw folder's `captions.csv` (`file,caption`), carried through ingest in the manifest;
- `model`: an image-to-text model from `transformers` (`frames.captioner`: a local path or a hub id)
  captions the middle frame of each clip.
"""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lamp_core.errors import LampError
from lamp_core.params import MotionConfig

SIDECAR_NAME = "captions.csv"
CAPTION_SOURCES = ("prompt", "sidecar", "model")


@dataclass(frozen=True)
class CaptionSpec:
    """Where a motion's captions come from; `captioner` is set when `source` is `model`."""

    source: str
    captioner: str | None = None

    @classmethod
    def from_params(cls, params: dict[str, Any], motion: MotionConfig) -> CaptionSpec:
        """`frames.caption_source` / `frames.captioner`, overridden by the motion's own keys if set."""
        section = params.get("frames") or {}
        source = motion.get("caption_source", section.get("caption_source", "prompt"))
        captioner = motion.get("captioner", section.get("captioner"))
        if source not in CAPTION_SOURCES:
            raise LampError(
                f"params.yaml: motion {motion.name!r}: caption_source={source!r} is not one of "
                f"{', '.join(CAPTION_SOURCES)}"
            )
        if source == "model" and not captioner:
            raise LampError(
                f"params.yaml: motion {motion.name!r}: caption_source is model but no `captioner` "
                "(a local path or hub id of an image-to-text model) is set"
            )
        return cls(source=source, captioner=str(captioner) if source == "model" else None)


def caption_key(name: str) -> str:
    """How sidecar file names are matched: Unicode NFC, POSIX separators, no leading `./`."""
    key = unicodedata.normalize("NFC", name.strip()).replace("\\", "/")
    return key.removeprefix("./")


def read_sidecar_captions(path: str | Path) -> dict[str, str]:
    """Read a `file,caption` CSV into {file: caption}; LampError names the file and the problem.

    Files are matched by `caption_key` (a path relative to the raw folder, or just the file name).
    Rows with an empty caption are skipped; a file named twice keeps its last caption.
    """
    path = Path(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip().lower() for name in reader.fieldnames or []]
            if "file" not in header or "caption" not in header:
                raise LampError(
                    path, f"expected the columns file,caption; found {','.join(header) or 'none'}"
                )
            reader.fieldnames = header
            captions = {}
            for record in reader:
                name, caption = (record.get("file") or "").strip(), (record.get("caption") or "").strip()
                if name and caption:
                    captions[caption_key(name)] = caption
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LampError(path, f"cannot read the captions ({exc})") from None
    return captions


def sidecar_caption(captions: dict[str, str], source: str) -> str:
    """The caption of raw file `source` (relative path): matched by path first, then by file name."""
    key = caption_key(source)
    return captions.get(key) or captions.get(key.rsplit("/", 1)[-1], "")
