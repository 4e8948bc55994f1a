"""Replacing a report file whole: write under a temporary name, then rename over the old one."""

from __future__ import annotations

import os
from pathlib import Path

from lamp_core.errors import LampError


def replace_text(path: str | Path, text: str) -> Path:
    """Write `text` to `path` so that readers see the old file or the new one, never a partial one."""
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    except OSError as exc:
        raise LampError(path, f"cannot write ({exc.strerror or exc})") from None
    finally:
        partial.unlink(missing_ok=True)
    return path
