"""DVC stage `base`: pre-train the tiny SD 1.x-format base model (`base.output`, models/tiny-sd).

python -m stages.pretrain_base
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from lamp_core.errors import LampError
from lamp_core.params import PARAMS_FILE, load_params
from lamp_core.stage_timing import run_timed
from lamp_core.synthetic import sample_image
from lamp_core.tiny_base import (
    PretrainConfig,
    caption_fidelity,
    image_grid,
    load_pipeline,
    pretrain_tiny_sd,
    sample_images,
    save_tiny_sd,
    write_model_card,
)

logger = logging.getLogger("stages.pretrain_base")

# Written into the model folder beside the weights: they ship with it, so a fresh clone has the model's
# figures without retraining (and DVC sees the `base` stage as up to date).
SAMPLES_FILE = "samples.png"
METRICS_FILE = "metrics.json"
LOG_FILE = "training_log.csv"


def _settings(params: dict[str, Any]) -> tuple[PretrainConfig, dict[str, Any]]:
    section = dict(params.get("base") or {})
    if "output" not in section:
        raise LampError(PARAMS_FILE, "`base:` lacks `output` (where the pre-trained base is written)")
    evaluation = dict(section.pop("evaluate", None) or {})
    paths = {k: section.pop(k) for k in ("model", "output") if k in section}
    config = PretrainConfig.from_dict(section)
    keys = ("samples", "steps", "guidance_scale")
    missing = [f"`base.evaluate.{key}`" for key in keys if key not in evaluation]
    if missing:
        raise LampError(PARAMS_FILE, f"missing key {', '.join(missing)}")
    return config, {**paths, **evaluation}


def _evaluate(components: dict[str, Any], config: PretrainConfig, settings: dict[str, Any]) -> dict[str, Any]:
    """Caption fidelity of images sampled from random captions, beside that of the renderer's own images."""
    rng = np.random.default_rng(config.seed + 100)
    n = int(settings["samples"])
    size = config.image_size
    rendered, captions = zip(*(sample_image(rng, size, size) for _ in range(n)), strict=True)
    steps, guidance = int(settings["steps"]), float(settings["guidance_scale"])
    pipeline = load_pipeline(components)
    images = sample_images(pipeline, list(captions), seed=config.seed, steps=steps, guidance_scale=guidance)
    figures: dict[str, Any] = caption_fidelity(images, list(captions))
    reference = caption_fidelity(np.stack(rendered), list(captions))
    figures |= {f"rendered_{key}": value for key, value in reference.items()}
    figures |= {"fidelity_samples": n, "sampling_steps": steps, "guidance_scale": guidance}
    return figures | {"_images": images, "_captions": list(captions)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stages.pretrain_base", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--params", default=PARAMS_FILE, help="parameters file (default: %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    try:
        config, settings = _settings(load_params(args.params))
    except LampError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    output = Path(settings["output"])
    if config.threads is not None:
        torch.set_num_threads(config.threads)  # for the evaluation too, not only the training
    rows: list[dict[str, Any]] = []

    def log(phase: str, step: int, values: dict[str, float]) -> None:
        rows.append({"phase": phase, "step": step, **values})
        logger.info("%s step %d: %s", phase, step, ", ".join(f"{k} {v:.4f}" for k, v in values.items()))

    started = time.perf_counter()
    components, figures = pretrain_tiny_sd(config, log)
    figures |= _evaluate(components, config, settings)
    figures["total_seconds"] = time.perf_counter() - started
    images, captions = figures.pop("_images"), figures.pop("_captions")
    try:
        save_tiny_sd(components, output)
    except LampError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    shown = min(len(images), 32)
    Image.fromarray(image_grid(images[:shown], columns=8)).save(output / SAMPLES_FILE)
    figures["sample_captions"] = captions[:shown]
    write_model_card(output, config, figures, SAMPLES_FILE)

    with open(output / LOG_FILE, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(dict.fromkeys(key for row in rows for key in row)))
        writer.writeheader()
        writer.writerows(rows)
    metrics = {k: v for k, v in figures.items() if k != "sample_captions"}
    (output / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    print(
        f"base: pre-trained in {figures['total_seconds']:.0f} s -> {output} "
        f"(VAE PSNR {figures['vae_psnr_db']:.1f} dB, colour {figures['color_accuracy']:.0%}, "
        f"shape {figures['shape_accuracy']:.0%}, background {figures['background_accuracy']:.0%})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(run_timed(main))
