"""Making writes durable before a rename publishes them (so a crash never exposes unwritten bytes)."""

from __future__ import annotations

import os
from pathlib import Path


def flush_to_disk(path: str | Path) -> None:
    """fsync a file, or a folder's entries (after creating or renaming something in it)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
