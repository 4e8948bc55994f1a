"""Replacing a file or a folder whole: readers see the old version or the new one, never a part of one.

Every output lamp writes goes through `replacing`: the new version is written beside the target under
`.<name>.partial`, then renamed over it. A folder cannot be renamed over a non-empty one, so the old
folder is first moved aside to `.<name>.old` and removed after the swap; `recover_interrupted_replace`
undoes what a kill between the two renames left.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lamp_core.errors import LampError


def partial_path(path: str | Path) -> Path:
    """Where the next version of `path` is written before it replaces `path`."""
    path = Path(path)
    return path.with_name(f".{path.name}.partial")


def previous_path(path: str | Path) -> Path:
    """Where a folder's previous version waits while the new one is renamed into place."""
    path = Path(path)
    return path.with_name(f".{path.name}.old")


def flush_to_disk(path: str | Path) -> None:
    """fsync a file, or a folder's entries (after creating or renaming something in it)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextmanager
def replacing(path: str | Path, *, folder: bool = False, durable: bool = False) -> Iterator[Path]:
    """Yield the temporary path to write the new version of `path` to; it replaces `path` when the block ends.

    `folder=True` yields an empty folder (otherwise nothing exists at the yielded path yet). If the block
    raises, the temporary is removed and `path` is left as it was. `durable=True` fsyncs the new files
    and the parent folder, so a crash after the rename never exposes unwritten bytes (checkpoints, the
    published motion). Errors propagate unchanged: the caller says what could not be written.
    """
    path = Path(path)
    partial = partial_path(path)
    _remove(partial)
    path.parent.mkdir(parents=True, exist_ok=True)
    if folder:
        partial.mkdir()
    try:
        yield partial
        if durable:
            for file in [partial] if partial.is_file() else [p for p in partial.rglob("*") if p.is_file()]:
                flush_to_disk(file)
        if partial.is_dir():
            _swap_folder(partial, path)
        else:
            os.replace(partial, path)
        if durable:
            flush_to_disk(path.parent)
    finally:
        _remove(partial)


def recover_interrupted_replace(path: str | Path) -> None:
    """Undo what a kill while replacing folder `path` left: restore its previous version, drop the partial."""
    path = Path(path)
    previous = previous_path(path)
    if previous.is_dir():
        if path.exists():
            shutil.rmtree(previous, ignore_errors=True)
        else:
            os.replace(previous, path)
    _remove(partial_path(path))


def write_text(path: str | Path, text: str) -> Path:
    """Replace `path` by a UTF-8 file holding `text`; LampError naming the file if it cannot be written."""
    path = Path(path)
    try:
        with replacing(path) as partial:
            partial.write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        raise LampError(path, f"cannot write ({exc.strerror or exc})") from None
    return path


def write_text_if_changed(path: str | Path, text: str) -> Path:
    """`write_text`, unless `path` already holds exactly `text` (its modification time then stays)."""
    path = Path(path)
    try:
        if path.read_bytes() == text.encode("utf-8"):
            return path
    except OSError:
        pass
    return write_text(path, text)


def _swap_folder(new: Path, target: Path) -> None:
    previous = previous_path(target)
    _remove(previous)
    if target.exists():
        os.replace(target, previous)
    try:
        os.replace(new, target)
    except OSError:
        if previous.exists() and not target.exists():
            os.replace(previous, target)
        raise
    _remove(previous)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
