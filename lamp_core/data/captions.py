"""Captions of training clips: where they come from, and the sidecar `captions.csv` of a raw folder.

Three sources, chosen by `frames.caption_source` in params.yaml (a motion may override it):
- `prompt`: every clip gets the motion's prompt (the original method: one prompt per motion);
- `sidecar`: the raw folder's `captions.csv` (`file,caption`), carried through ingest in the manifest;
- `model`: an image-to-text model from `transformers` (`frames.captioner`: a local path or a hub id)
  captions the middle frame of each clip.
"""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lamp_core.errors import LampError
from lamp_core.params import PARAMS_FILE, MotionConfig

# Captioning frames with an image-to-text model from `transformers` (local path or hub id).
#
# Any checkpoint that `AutoModelForImageTextToText` loads and that generates text from `pixel_values`
# alone works: a vision encoder-decoder (ViT + GPT-2), BLIP, GIT, ... Decoding is greedy, so captions
# are deterministic.


class ImageCaptioner:
    """An image-to-text model with its image processor and tokenizer, on the CPU by default."""

    def __init__(self, model: str | Path, *, max_new_tokens: int = 30, device: str = "cpu") -> None:
        import transformers  # imported here: slow to import, and needed only for model captions

        transformers.utils.logging.disable_progress_bar()
        self.name = str(model)
        self.max_new_tokens = max_new_tokens
        self.device = device
        local = Path(model).exists()
        options = {"local_files_only": True} if local else {}
        try:
            self.image_processor = transformers.AutoImageProcessor.from_pretrained(self.name, **options)
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(self.name, **options)
            self.model = transformers.AutoModelForImageTextToText.from_pretrained(self.name, **options)
        except (OSError, ValueError, KeyError) as exc:
            where = "local model folder" if local else "model (hub id; nothing can be downloaded offline)"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise LampError(model, f"cannot load the image-to-text {where}: {first}") from None
        self.model.to(device).eval()

    def __call__(self, images: np.ndarray) -> list[str]:
        """Captions of uint8 RGB images `(N, H, W, 3)`, one string each (stripped; may be empty)."""
        import torch

        images = np.asarray(images)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"expected uint8 images (N, H, W, 3), got {images.dtype} {images.shape}")
        inputs = self.image_processor(images=list(images), return_tensors="pt")
        with torch.inference_mode():
            tokens = self.model.generate(
                pixel_values=inputs["pixel_values"].to(self.device),
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                num_beams=1,
            )
        return [text.strip() for text in self.tokenizer.batch_decode(tokens, skip_special_tokens=True)]


SIDECAR_NAME = "captions.csv"
CAPTION_SOURCES = ("prompt", "sidecar", "model")


@dataclass(frozen=True)
class CaptionSpec:
    """Where a motion's captions come from; `captioner` is set when `source` is `model`."""

    source: str
    captioner: str | None = None

    @classmethod
    def from_params(cls, params: dict[str, Any], motion: MotionConfig) -> CaptionSpec:
        """`frames.caption_source` / `frames.captioner`, overridden by the motion's own keys if set."""
        section = params.get("frames") or {}
        if "caption_source" not in section:
            raise LampError(PARAMS_FILE, "missing key `frames.caption_source`")
        source = motion.get("caption_source", section["caption_source"])
        captioner = motion.get("captioner", section.get("captioner"))
        if source not in CAPTION_SOURCES:
            raise LampError(
                f"params.yaml: motion {motion.name!r}: caption_source={source!r} is not one of "
                f"{', '.join(CAPTION_SOURCES)}"
            )
        if source == "model" and not captioner:
            raise LampError(
                f"params.yaml: motion {motion.name!r}: caption_source is model but no `captioner` "
                "(a local path or hub id of an image-to-text model) is set"
            )
        return cls(source=source, captioner=str(captioner) if source == "model" else None)


def caption_key(name: str) -> str:
    """How sidecar file names are matched: Unicode NFC, POSIX separators, no leading `./`."""
    key = unicodedata.normalize("NFC", name.strip()).replace("\\", "/")
    return key.removeprefix("./")


def read_sidecar_captions(path: str | Path) -> dict[str, str]:
    """Read a `file,caption` CSV into {file: caption}; LampError names the file and the problem.

    Files are matched by `caption_key` (a path relative to the raw folder, or just the file name).
    Rows with an empty caption are skipped; a file named twice keeps its last caption.
    """
    path = Path(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip().lower() for name in reader.fieldnames or []]
            if "file" not in header or "caption" not in header:
                raise LampError(
                    path, f"expected the columns file,caption; found {','.join(header) or 'none'}"
                )
            reader.fieldnames = header
            captions = {}
            for record in reader:
                name, caption = (record.get("file") or "").strip(), (record.get("caption") or "").strip()
                if name and caption:
                    captions[caption_key(name)] = caption
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LampError(path, f"cannot read the captions ({exc})") from None
    return captions


def sidecar_caption(captions: dict[str, str], source: str) -> str:
    """The caption of raw file `source` (relative path): matched by path first, then by file name."""
    key = caption_key(source)
    return captions.get(key) or captions.get(key.rsplit("/", 1)[-1], "")
