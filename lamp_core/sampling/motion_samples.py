"""A motion's evaluation samples: every eval prompt sampled by the tuned and by the untuned model.

Both variants share prompts, seeds and first frames; `untuned` is the same inflated base with no motion
loaded (zero-initialised temporal layers). Output: `<out>/tuned/`, `<out>/untuned/` (sample folders, see
`sample_folder.py`) and `<out>/contact_sheet.png` (each video's tuned row above its untuned row).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from lamp_core.atomic_write import replacing
from lamp_core.errors import LampError
from lamp_core.model import LAMPUNet, SDBase, load_base, load_motion, read_motion_config
from lamp_core.params import MotionConfig

from .contact_sheet import contact_sheet
from .device_placement import resolve_device, resolve_dtype
from .eval_prompts import EvalPrompt
from .first_frame import FirstFrame, resolve_first_frames
from .lamp_sampler import sample_videos
from .sample_folder import CONTACT_SHEET_FILE, GeneratedVideo, write_sample_folder
from .sampling_config import MemoryOptions, SamplingConfig
from .text_to_image import TextToImage
from .video_model import build_video_unet

logger = logging.getLogger(__name__)

VARIANTS = ("tuned", "untuned")


@dataclass(frozen=True)
class GenerateSettings:
    """The `generate:` section of params.yaml: sampling knobs, memory options, and how the run goes."""

    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    memory: MemoryOptions = field(default_factory=MemoryOptions)
    seed: int = 1000
    batch_size: int = 6
    first_frame_model: str | None = None
    first_frame_steps: int = 50
    first_frame_guidance: float = 7.5
    device: str = "auto"
    dtype: str = "auto"
    threads: int = 0

    @classmethod
    def from_params(cls, section: Mapping[str, Any] | None) -> GenerateSettings:
        """Split `generate:` into sampling knobs, memory options and the rest; unknown keys are an error."""
        section = dict(section or {})
        where = "params.yaml: generate"
        sampling_keys = {f.name for f in fields(SamplingConfig)}
        memory_keys = {f.name for f in fields(MemoryOptions)}
        sampling = SamplingConfig.from_mapping(
            {k: section.pop(k) for k in list(section) if k in sampling_keys}, where
        )
        memory = MemoryOptions.from_mapping(
            {k: section.pop(k) for k in list(section) if k in memory_keys}, where
        )
        own = {f.name for f in fields(cls)} - {"sampling", "memory"}
        unknown = sorted(set(section) - own)
        if unknown:
            known = sorted(own | sampling_keys | memory_keys)
            raise LampError(f"{where}: unknown setting(s) {', '.join(unknown)} (known: {', '.join(known)})")
        settings = cls(sampling=sampling, memory=memory, **section)
        if not isinstance(settings.batch_size, int) or settings.batch_size < 1:
            raise LampError(f"{where}: batch_size must be a positive integer, got {settings.batch_size!r}")
        if not isinstance(settings.seed, int):
            raise LampError(f"{where}: seed must be an integer, got {settings.seed!r}")
        if not isinstance(settings.threads, int) or settings.threads < 0:
            raise LampError(f"{where}: threads must be 0 (torch's default) or more, got {settings.threads!r}")
        return settings


def generate_motion_samples(
    *,
    motion: MotionConfig,
    prompts: list[EvalPrompt],
    motion_dir: str | Path,
    base_source: str,
    out_dir: str | Path,
    settings: GenerateSettings,
) -> dict[str, float]:
    """Sample every eval prompt with the tuned and the untuned model into `out_dir`.

    `out_dir` is replaced only when everything was written (a failure keeps earlier results). Returns
    timings: seconds in total and per video for each variant.
    """
    previous_threads = torch.get_num_threads()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    try:
        return _generate(motion, prompts, Path(motion_dir), base_source, Path(out_dir), settings)
    finally:
        torch.set_num_threads(previous_threads)


def _generate(
    motion: MotionConfig,
    prompts: list[EvalPrompt],
    motion_dir: Path,
    base_source: str,
    out_dir: Path,
    settings: GenerateSettings,
) -> dict[str, float]:
    device = resolve_device(settings.device)
    dtype = resolve_dtype(settings.dtype, device)
    artifact = read_motion_config(motion_dir)  # fails early, before anything is loaded
    base = load_base(base_source, torch_dtype=None if dtype == torch.float32 else dtype)
    if not settings.memory.cpu_offload:
        base.to(device)

    seeds = [prompt.seed for prompt in prompts]
    first_frames = resolve_first_frames(
        [prompt.first_frame for prompt in prompts],
        seeds,
        motion=motion.name,
        width=motion.width,
        height=motion.height,
        text_to_image=lambda: _text_to_image(base, settings, device, dtype),
    )
    unet = build_video_unet(base, artifact.inflation)
    load_motion(motion_dir, unet)

    timings: dict[str, float] = {}
    generated: dict[str, list[GeneratedVideo]] = {}
    for variant in VARIANTS:
        if variant == "untuned":
            unet.reset_motion()
        started = time.perf_counter()
        generated[variant] = _sample_all(unet, base, motion, prompts, first_frames, settings, device)
        elapsed = time.perf_counter() - started
        timings[f"{variant}_seconds"] = elapsed
        timings[f"{variant}_seconds_per_video"] = elapsed / len(prompts)
        logger.info("%s %s: %d videos in %.1f s", motion.name, variant, len(prompts), elapsed)

    with replacing(out_dir, folder=True) as staging:
        for variant in VARIANTS:
            write_sample_folder(staging / variant, generated[variant], motion.fps)
        rows = [video for pair in zip(*generated.values(), strict=True) for video in pair]
        labels = [f"{variant} {video.video_id}" for video in generated[VARIANTS[0]] for variant in VARIANTS]
        sheet = contact_sheet([video.frames for video in rows], labels)
        Image.fromarray(sheet).save(staging / CONTACT_SHEET_FILE)
    return timings


def _sample_all(
    unet: LAMPUNet,
    base: SDBase,
    motion: MotionConfig,
    prompts: list[EvalPrompt],
    first_frames: list[FirstFrame],
    settings: GenerateSettings,
    device: torch.device,
) -> list[GeneratedVideo]:
    """All prompts in batches of `settings.batch_size`; the videos of a batch share one negative prompt."""
    videos: list[GeneratedVideo] = []
    groups: dict[str, list[int]] = {}
    for index, prompt in enumerate(prompts):
        groups.setdefault(prompt.negative_prompt or settings.sampling.negative_prompt, []).append(index)
    for negative, members in groups.items():
        config = replace(settings.sampling, negative_prompt=negative)
        for start in range(0, len(members), settings.batch_size):
            chunk = members[start : start + settings.batch_size]
            texts = [prompts[i].prompt_for(first_frames[i]) for i in chunk]
            frames = sample_videos(
                unet,
                base,
                texts,
                [first_frames[i].image for i in chunk],
                [prompts[i].seed for i in chunk],
                n_frames=motion.n_frames,
                config=config,
                memory=settings.memory,
                device=device,
            )
            for i, text, video in zip(chunk, texts, frames, strict=True):
                prompt = prompts[i]
                videos.append(
                    GeneratedVideo(prompt.video_id, text, negative, prompt.seed, first_frames[i], video)
                )
    videos.sort(key=lambda video: video.video_id)
    return videos


def _text_to_image(
    base: SDBase, settings: GenerateSettings, device: torch.device, dtype: torch.dtype
) -> TextToImage:
    options = {"steps": settings.first_frame_steps, "guidance_scale": settings.first_frame_guidance}
    if settings.first_frame_model is None:
        return TextToImage.from_base(base, **options)
    return TextToImage.load(
        settings.first_frame_model,
        device=device,
        dtype=dtype,
        cpu_offload=settings.memory.cpu_offload,
        **options,
    )
