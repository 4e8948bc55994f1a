"""Publishing a tuned motion: the whole artifact folder appears at once, or not at all.

Everything (motion weights, motion config, model card, README) is written into `.<name>.partial/` beside
the output folder, flushed, and renamed into place. An earlier artifact is moved aside to `.<name>.old/`
for the swap and removed after it; a run killed between the two renames gets it back on the next run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from lamp_core.errors import LampError
from lamp_core.model import LAMPUNet, save_motion

from .durable import flush_to_disk
from .model_card import write_model_card


def staging_folder(output: Path) -> Path:
    return output.with_name(f".{output.name}.partial")


def previous_folder(output: Path) -> Path:
    return output.with_name(f".{output.name}.old")


def recover_interrupted_publish(output: str | Path) -> None:
    """Undo what a kill during publishing left: restore the previous artifact, drop the staging folder."""
    output = Path(output)
    previous = previous_folder(output)
    if previous.is_dir():
        if output.exists():
            shutil.rmtree(previous, ignore_errors=True)
        else:
            os.replace(previous, output)
    shutil.rmtree(staging_folder(output), ignore_errors=True)


def publish_motion(
    output: str | Path, unet: LAMPUNet, *, metadata: dict[str, Any], card: dict[str, Any]
) -> Path:
    """Write the motion artifact of `unet` plus its model card to `output`, atomically. Returns `output`.

    TuneOutputError (naming the folder and the reason, e.g. no space left) if it cannot be written; an
    earlier artifact at `output` is then left as it was.
    """
    output = Path(output)
    staging, previous = staging_folder(output), previous_folder(output)
    try:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        save_motion(staging, unet, metadata=metadata)
        write_model_card(staging, card)
        for file in staging.iterdir():
            flush_to_disk(file)
    except (OSError, LampError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise LampError(output, f"cannot write the tuned motion ({reason}); nothing was published") from None
    try:
        if output.exists():
            shutil.rmtree(previous, ignore_errors=True)
            os.replace(output, previous)
        os.replace(staging, output)
        flush_to_disk(output.parent)
    except OSError as exc:
        if previous.exists() and not output.exists():
            os.replace(previous, output)
        shutil.rmtree(staging, ignore_errors=True)
        raise LampError(output, f"cannot publish the tuned motion ({exc.strerror or exc})") from None
    shutil.rmtree(previous, ignore_errors=True)
    return output
