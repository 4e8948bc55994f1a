"""The model card of a tuned motion: `model_card.json` (for programs) and `README.md` (for people).

It records what is needed to trust and reproduce the artifact: the base (source and content hash), every
parameter of the run, the training data's hashes, steps done, final loss, and the code version. It holds
no timings, so re-running the same training gives the same card (timings go to the tuning logs).
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
