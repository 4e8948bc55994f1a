"""Publishing a tuned motion: the whole artifact folder appears at once, or not at all, with its model card
(README.md) and the identity of the run that made it (what a re-run must match to resume).

Everything (motion weights, motion config, model card, README) is written into a partial folder beside
the output folder, flushed to disk, and swapped into place (`lamp_core.atomic_write.replacing`); a run
killed during the swap gets the earlier artifact back on the next run (`recover_interrupted_replace`).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from pathlib import Path
from typing import Any

import accelerate
import diffusers
import torch

from lamp_core.atomic_write import replacing
from lamp_core.data import CAPTIONS_FILE, CLIPS_FILE, INDEX_FILE, FrameCache
from lamp_core.errors import LampError
from lamp_core.model import LAMPUNet, save_motion

# The model card of a tuned motion: `model_card.json` (for programs) and `README.md` (for people).
#
# It records what is needed to trust and reproduce the artifact: the base (source and content hash), every
# parameter of the run, the training data's hashes, steps done, final loss, and the code version. It holds
# no timings, so re-running the same training gives the same card (timings go to the tuning logs).

MODEL_CARD_FILE = "model_card.json"
README_FILE = "README.md"
CARD_FORMAT = "lamp-model-card"
_REPO_ROOT = Path(__file__).resolve().parents[2]
# The code that decides what a tuned motion is: the video model, training, and the stage entry point.
_SOURCE_FOLDERS = ("lamp_core/model", "lamp_core/training")
_SOURCE_FILES = ("stages/tune.py",)


def file_sha256(paths: list[Path]) -> str:
    """SHA-256 over the names and bytes of `paths`, in the order given."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(f"{path.name}\0".encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return "sha256:" + digest.hexdigest()


def code_version() -> dict[str, str]:
    """The lamp version, a hash of the tuning code itself, and the library versions.

    `source_sha256` covers lamp_core/model, lamp_core/training and stages/tune.py: it tells apart any two
    versions of the code, committed or not. (No git commit: it would change the artifact, and so DVC's
    lock file, on every commit, even one that changes no tuning code.)
    """
    try:
        version = importlib.metadata.version("lamp")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    sources = sorted(p for folder in _SOURCE_FOLDERS for p in (_REPO_ROOT / folder).glob("*.py"))
    sources += [_REPO_ROOT / f for f in _SOURCE_FILES if (_REPO_ROOT / f).is_file()]
    return {
        "lamp": version,
        "source_sha256": file_sha256(sources),
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "accelerate": accelerate.__version__,
    }


def build_model_card(
    *,
    motion: str,
    prompt: str,
    base: dict[str, str],
    params: dict[str, Any],
    data: dict[str, Any],
    steps: int,
    final_loss: float,
    training: dict[str, Any],
) -> dict[str, Any]:
    """The model card as a JSON-ready dict (see the module docstring for the fields)."""
    return {
        "format": CARD_FORMAT,
        "format_version": 1,
        "motion": motion,
        "prompt": prompt,
        "base": base,
        "steps": steps,
        "final_loss": final_loss,
        "params": params,
        "data": data,
        "training": training,
        "code": code_version(),
    }


def render_readme(card: dict[str, Any]) -> str:
    """README.md of the artifact folder: what it is, how it was trained, how to use it."""
    tune, motion = card["params"]["tune"], card["params"]["motion"]
    lines = [
        f"# LAMP motion: {card['motion']}",
        "",
        f'A motion pattern ("{card["prompt"]}") learned by LAMP few-shot tuning from {card["data"]["clips"]} '
        f"clips,",
        f"on the SD 1.x base `{card['base']['source']}` (`{card['base']['content_hash'][:23]}...`).",
        "The folder holds only the motion weights: load them onto a fresh inflation of the same base.",
        "",
        "```python",
        "from lamp_core.model import load_base",
        "from lamp_core.sampling import load_tuned_unet, sample_video",
        "",
        f'base = load_base("{card["base"]["source"]}")',
        f'unet, _ = load_tuned_unet(base, "data/motions/{card["motion"]}")',
        "```",
        "",
        "## Training",
        "",
        "| | |",
        "|---|---|",
        f"| steps | {card['steps']} |",
        f"| final loss (frames 2..f, mean of the last logged interval) | {card['final_loss']:.5f} |",
        f"| video | {motion['n_frames']} frames, stride {motion['sample_rate']}, "
        f"{motion['width']}x{motion['height']} |",
        f"| batch | {tune['batch_size']} videos x {card['training']['num_processes']} process(es) |",
        f"| optimiser | {card['training']['optimizer']}, lr {tune['learning_rate']:g} "
        f"({tune['lr_scheduler']}), "
        f"betas ({tune['adam_beta1']}, {tune['adam_beta2']}), weight decay {tune['adam_weight_decay']:g} |",
        f"| mixed precision | {tune['mixed_precision']} |",
        f"| trainable parameters | {card['training']['trainable_parameters'] / 1e6:.2f} M |",
        f"| seed | {tune['seed']} |",
        f"| data | `{card['data']['frames_sha256'][:23]}...` |",
        f"| code | lamp {card['code']['lamp']}, source {card['code']['source_sha256'][:19]}... |",
        "",
        "Every parameter, the data hashes and the code version are in `model_card.json`.",
        "",
    ]
    return "\n".join(lines)


def write_model_card(folder: str | Path, card: dict[str, Any]) -> None:
    """Write `model_card.json` and `README.md` into `folder` (a staging folder: not atomic by itself)."""
    folder = Path(folder)
    (folder / MODEL_CARD_FILE).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    (folder / README_FILE).write_text(render_readme(card), encoding="utf-8")


# What a tuning run is made of, as hashes: its data, and a fingerprint of everything it learns from.
#
# A checkpoint resumes only a run with the same fingerprint, and a saved latent cache is reused only for
# the same VAE, text encoder and data.


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
