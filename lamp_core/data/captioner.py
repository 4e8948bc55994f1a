"""Captioning frames with an image-to-text model from `transformers` (local path or hub id).

Any checkpoint that `AutoModelForImageTextToText` loads and that generates text from `pixel_values`
alone works: a vision encoder-decoder (ViT + GPT-2), BLIP, GIT, ... Decoding is greedy, so captions
are deterministic.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lamp_core.errors import LampError


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
