"""What a tuning run is made of, as hashes: its data, and a fingerprint of everything it learns from.

A checkpoint resumes only a run with the same fingerprint, and a saved latent cache is reused only for
the same VAE, text encoder and data.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from lamp_core.data import CAPTIONS_FILE, CLIPS_FILE, INDEX_FILE, FrameCache

from .model_card import file_sha256


def data_record(
    frames_dir: str | Path, cache: FrameCache, manifest: str | Path | None = None
) -> dict[str, Any]:
    """The training data, identified: the frame cache's hash, and the ingest manifest's when there is one."""
    frames_dir = Path(frames_dir)
    record: dict[str, Any] = {
        "frames_dir": str(frames_dir),
        "frames_sha256": file_sha256(
            [frames_dir / CLIPS_FILE, frames_dir / CAPTIONS_FILE, frames_dir / INDEX_FILE]
        ),
        "clips": len(cache.clips),
        "frames": int(sum(len(clip) for clip in cache.clips.values())),
    }
    if manifest is not None and Path(manifest).is_file():
        record["manifest"] = str(manifest)
        record["manifest_sha256"] = file_sha256([Path(manifest)])
    return record


def fingerprint(parts: dict[str, Any]) -> str:
    """SHA-256 of a JSON-ready mapping (keys sorted)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
