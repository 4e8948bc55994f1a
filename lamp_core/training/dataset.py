"""Tuning data: which training windows each step sees (random clip order, window start and horizontal flip,
seeded), and the cache of their VAE latents and caption embeddings.

A window is `n_frames` frames of one clip, `stride` apart, from a random start. Clips are visited in a
fresh random order every epoch (each clip once per epoch: the original LAMP code did not shuffle), and
every window is mirrored with probability `flip_p`.

Everything is a pure function of (seed, step): a resumed run sees exactly the windows the interrupted
one would have, with no sampler state to save, and every process of a multi-process run computes the
same global batch and takes its own slice of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from lamp_core.atomic_write import replacing
from lamp_core.errors import LampError

# Domain tags keep the random streams of different purposes independent under one seed.
_EPOCH_ORDER, _WINDOW_DRAWS = 1, 2


@dataclass(frozen=True)
class Window:
    """One training window: clip index, first frame, and whether it is mirrored left-right."""

    clip: int
    start: int
    flip: bool


class WindowSampler:
    """The global batch of windows of every training step, deterministic given the seed."""

    def __init__(
        self,
        clip_lengths: Sequence[int],
        n_frames: int,
        stride: int,
        seed: int,
        flip_p: float = 0.5,
    ) -> None:
        if n_frames < 2 or stride < 1:
            raise ValueError(f"a window needs n_frames >= 2 and stride >= 1, got {n_frames}, {stride}")
        self.clip_lengths = tuple(int(n) for n in clip_lengths)
        self.n_frames = n_frames
        self.stride = stride
        self.seed = seed
        self.flip_p = flip_p
        if not self.clip_lengths:
            raise ValueError("no clips to sample windows from")
        short = [i for i, n in enumerate(self.clip_lengths) if n < self.span]
        if short:
            raise ValueError(
                f"clip {short[0]} has {self.clip_lengths[short[0]]} frames; a window needs {self.span} "
                f"({n_frames} frames, stride {stride})"
            )

    @property
    def span(self) -> int:
        """Frames of a clip one window covers, first to last."""
        return (self.n_frames - 1) * self.stride + 1

    def frame_indices(self, window: Window) -> np.ndarray:
        """The clip frame indices of `window`, in order."""
        return window.start + self.stride * np.arange(self.n_frames)

    def batch(self, step: int, size: int) -> list[Window]:
        """The `size` windows of training step `step` (1-based), for all processes together."""
        n_clips = len(self.clip_lengths)
        first = (step - 1) * size
        positions = np.arange(first, first + size)
        epochs = positions // n_clips
        clips = np.empty(size, dtype=np.int64)
        for epoch in np.unique(epochs):
            order = np.random.default_rng([self.seed, _EPOCH_ORDER, int(epoch)]).permutation(n_clips)
            chosen = epochs == epoch
            clips[chosen] = order[positions[chosen] % n_clips]
        draws = np.random.default_rng([self.seed, _WINDOW_DRAWS, step])
        room = np.array([self.clip_lengths[c] - self.span + 1 for c in clips])
        starts = np.floor(draws.random(size) * room).astype(np.int64)
        flips = draws.random(size) < self.flip_p
        return [Window(int(c), int(s), bool(f)) for c, s, f in zip(clips, starts, flips, strict=True)]

    def process_batch(
        self, step: int, batch_size: int, process_index: int, num_processes: int
    ) -> list[Window]:
        """This process's `batch_size` windows of step `step` (its slice of the global batch)."""
        windows = self.batch(step, batch_size * num_processes)
        return windows[process_index * batch_size : (process_index + 1) * batch_size]


# Training inputs computed once per run, not every step: VAE latents of the clip frames, caption embeddings.
#
# Each frame is encoded twice, as is and mirrored left-right, so a flipped window uses the true encoding of
# the flipped frames (a VAE is not mirror-symmetric, so flipping latents would not be exact). The cache
# keeps the latent distribution (mean and standard deviation, scaled by the VAE's `scaling_factor`) and
# draws a fresh sample for every window, as encoding every step would. Captions are embedded once per
# distinct caption.
#
# The cache can be saved beside the checkpoints, so a resumed run does not encode again; its fingerprint
# (base weights and data) decides whether a saved cache is still valid.

LATENT_CACHE_FILE = "latents.safetensors"


@dataclass(frozen=True)
class LatentCache:
    """Scaled VAE latent distributions of every clip (plain and mirrored) and the caption embeddings.

    mean, std: one tensor per clip, (2, frames, channels, height, width); index 0 plain, 1 mirrored.
    text: (n_captions, tokens, dim) embeddings; caption_index: (n_clips,) row of `text` for each clip.
    """

    mean: tuple[torch.Tensor, ...]
    std: tuple[torch.Tensor, ...]
    text: torch.Tensor
    caption_index: torch.Tensor
    fingerprint: str

    @property
    def clip_lengths(self) -> list[int]:
        return [m.shape[1] for m in self.mean]

    def videos(
        self, windows: Sequence[Window], frames: Sequence[np.ndarray], generator: torch.Generator
    ) -> torch.Tensor:
        """Latent videos (batch, channels, frames, height, width) of `windows`, one latent sample each.

        frames: the clip frame indices of each window (see `WindowSampler.frame_indices`).
        """
        videos = []
        for window, index in zip(windows, frames, strict=True):
            rows = torch.as_tensor(index, dtype=torch.long)
            side = int(window.flip)
            mean = self.mean[window.clip][side].index_select(0, rows)
            std = self.std[window.clip][side].index_select(0, rows)
            eps = torch.randn(mean.shape, generator=generator, dtype=mean.dtype)
            videos.append((mean + std * eps).transpose(0, 1))  # (C, F, h, w)
        return torch.stack(videos)

    def text_embeddings(self, windows: Sequence[Window]) -> torch.Tensor:
        """Caption embeddings (batch, tokens, dim) of the clips of `windows`."""
        rows = self.caption_index[torch.as_tensor([w.clip for w in windows], dtype=torch.long)]
        return self.text.index_select(0, rows)

    def save(self, path: str | Path) -> None:
        """Write to `path` (temporary name, then rename); LampError if it cannot be written."""
        path = Path(path)
        tensors = {"text": self.text.contiguous(), "caption_index": self.caption_index.contiguous()}
        for i, (mean, std) in enumerate(zip(self.mean, self.std, strict=True)):
            tensors[f"mean.{i:04d}"] = mean.contiguous()
            tensors[f"std.{i:04d}"] = std.contiguous()
        metadata = {"fingerprint": self.fingerprint, "clips": str(len(self.mean))}
        try:
            with replacing(path) as partial:
                save_file(tensors, partial, metadata=metadata)
        except OSError as exc:
            raise LampError(path, f"cannot write the latent cache ({exc.strerror or exc})") from None

    @classmethod
    def load(cls, path: str | Path, fingerprint: str) -> LatentCache | None:
        """The cache saved at `path` if it exists and has `fingerprint`, else None."""
        path = Path(path)
        try:
            with safe_open(str(path), framework="pt") as handle:
                meta = handle.metadata() or {}
            if meta.get("fingerprint") != fingerprint:
                return None
            tensors = load_file(path)
            n = int(meta["clips"])
            return cls(
                mean=tuple(tensors[f"mean.{i:04d}"] for i in range(n)),
                std=tuple(tensors[f"std.{i:04d}"] for i in range(n)),
                text=tensors["text"],
                caption_index=tensors["caption_index"],
                fingerprint=fingerprint,
            )
        except FileNotFoundError:
            return None
        except (OSError, SafetensorError, KeyError, ValueError):
            return None  # unreadable or from an older layout: encode again


@torch.no_grad()
def build_latent_cache(
    clips: Sequence[np.ndarray],
    captions: Sequence[str],
    vae: nn.Module,
    tokenizer,
    text_encoder: nn.Module,
    fingerprint: str,
    device: torch.device | str = "cpu",
    chunk: int = 16,
) -> LatentCache:
    """Encode every frame of `clips` (uint8 (T, H, W, 3) each) plain and mirrored, and embed `captions`.

    `captions[i]` is the caption of clip i. The VAE runs in chunks of `chunk` images on `device`; the
    cache lives on the CPU (float32).
    """
    scale = float(vae.config.scaling_factor)
    means, stds = [], []
    for frames in clips:
        pixels = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)  # (T, 3, H, W) uint8
        both = torch.cat([pixels, pixels.flip(-1)])
        mean_parts, std_parts = [], []
        for batch in both.split(chunk):
            images = (batch.to(device=device, dtype=vae.dtype) / 127.5 - 1.0).contiguous()
            dist = vae.encode(images).latent_dist
            mean_parts.append((dist.mean * scale).float().cpu())
            std_parts.append((dist.std * scale).float().cpu())
        length = len(frames)
        means.append(torch.cat(mean_parts).unflatten(0, (2, length)))
        stds.append(torch.cat(std_parts).unflatten(0, (2, length)))

    distinct = sorted(set(captions))
    tokens = tokenizer(
        distinct,
        padding="max_length",
        max_length=tokenizer.model_max_length,
        truncation=True,
        return_tensors="pt",
    ).input_ids
    text = text_encoder(tokens.to(device))[0].float().cpu()
    caption_index = torch.tensor([distinct.index(c) for c in captions], dtype=torch.long)
    return LatentCache(tuple(means), tuple(stds), text, caption_index, fingerprint)
