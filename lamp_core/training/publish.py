"""Publishing a tuned motion: the whole artifact folder appears at once, or not at all.

Everything (motion weights, motion config, model card, README) is written into a partial folder beside
the output folder, flushed to disk, and swapped into place (`lamp_core.atomic_write.replacing`); a run
killed during the swap gets the earlier artifact back on the next run (`recover_interrupted_replace`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lamp_core.atomic_write import replacing
from lamp_core.errors import LampError
from lamp_core.model import LAMPUNet, save_motion

from .model_card import write_model_card


def publish_motion(
    output: str | Path, unet: LAMPUNet, *, metadata: dict[str, Any], card: dict[str, Any]
) -> Path:
    """Write the motion artifact of `unet` plus its model card to `output`, atomically. Returns `output`.

    LampError (naming the folder and the reason, e.g. no space left) if it cannot be written; an earlier
    artifact at `output` is then left as it was.
    """
    output = Path(output)
    try:
        with replacing(output, folder=True, durable=True) as staging:
            save_motion(staging, unet, metadata=metadata)
            write_model_card(staging, card)
    except (OSError, LampError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise LampError(output, f"cannot write the tuned motion ({reason}); nothing was published") from None
    return output
