"""The ingest manifest: one row per input file of a motion, what it is and what became of it."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field, fields
from pathlib import Path

from lamp_core.atomic_write import write_text_if_changed
from lamp_core.errors import LampError

STATUS_OK = "ok"
STATUS_REJECTED = "rejected"


@dataclass
class ManifestRow:
    """One input file. `source` is its path relative to the motion's raw folder (POSIX separators).

    `reason` is `<code>: <why>` for a rejected file, notes (e.g. resampled, rotated) for an accepted one;
    `clips` are the normalised clip files (names in the clips folder) made from it.
    """

    source: str
    sha256: str = ""
    container: str = ""
    codec: str = ""
    width: int | None = None
    height: int | None = None
    rotation: int | None = None
    fps: float | None = None
    vfr: bool | None = None
    n_frames: int | None = None
    duration: float | None = None
    audio: bool | None = None
    status: str = STATUS_REJECTED
    reason: str = ""
    clips: list[str] = field(default_factory=list)
    caption: str = ""

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK


COLUMNS = tuple(f.name for f in fields(ManifestRow))


def write_manifest(path: str | Path, rows: list[ManifestRow]) -> None:
    """Write `rows` to `path` as CSV, atomically; an unchanged manifest is left untouched."""
    path = Path(path)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows([_cell(getattr(row, name)) for name in COLUMNS] for row in rows)
    write_text_if_changed(path, buffer.getvalue())


def read_manifest(path: str | Path) -> list[ManifestRow]:
    """Read a manifest written by `write_manifest`; LampError names the file and the problem."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            records = list(reader)
            header = reader.fieldnames or ()
    except FileNotFoundError:
        raise LampError(path, "no manifest (run the ingest stage first)") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LampError(path, f"cannot read the manifest ({exc})") from None
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        raise LampError(path, f"not an ingest manifest: columns {', '.join(missing)} are missing")
    try:
        return [_row(record) for record in records]
    except (TypeError, ValueError) as exc:
        raise LampError(path, f"malformed value ({exc})") from None


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, list):
        return ";".join(value)
    return str(value)


def _row(record: dict[str, str]) -> ManifestRow:
    def number(name: str, kind: type) -> int | float | None:
        text = record[name]
        return kind(text) if text != "" else None

    def flag(name: str) -> bool | None:
        text = record[name]
        return None if text == "" else text == "true"

    return ManifestRow(
        source=record["source"],
        sha256=record["sha256"],
        container=record["container"],
        codec=record["codec"],
        width=number("width", int),
        height=number("height", int),
        rotation=number("rotation", int),
        fps=number("fps", float),
        vfr=flag("vfr"),
        n_frames=number("n_frames", int),
        duration=number("duration", float),
        audio=flag("audio"),
        status=record["status"],
        reason=record["reason"],
        clips=[name for name in record["clips"].split(";") if name],
        caption=record["caption"],
    )
