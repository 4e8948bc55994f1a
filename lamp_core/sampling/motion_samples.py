"""A motion's evaluation samples: every eval prompt sampled by the tuned and by the untuned model.

Both variants share prompts, seeds and first frames; `untuned` is the same inflated base with no motion
loaded (zero-initialised temporal layers). Output: `<out>/tuned/`, `<out>/untuned/` (sample folders, see
`write_sample_folder`) and `<out>/contact_sheet.png` (each video's tuned row above its untuned row).
"""

from __future__ import annotations

import csv
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from safetensors.numpy import save_file

from lamp_core.atomic_write import replacing
from lamp_core.errors import LampError
from lamp_core.model import (
    InflationConfig,
    LAMPUNet,
    MotionArtifactConfig,
    SDBase,
    load_base,
    load_motion,
    read_motion_config,
)
from lamp_core.params import PARAMS_FILE, MotionConfig, read_settings
from lamp_core.paths import SAMPLE_INDEX_COLUMNS as INDEX_COLUMNS
from lamp_core.paths import SAMPLE_INDEX_FILE, SAMPLE_VIDEOS_FILE
from lamp_core.paths import SAMPLE_VARIANTS as VARIANTS
from lamp_core.video import write_video

from .first_frame import FirstFrame, FirstFrameSpec, TextToImage, resolve_first_frames
from .lamp_sampler import MemoryOptions, SamplingConfig, resolve_device, resolve_dtype, sample_videos

# The video model for sampling: a base inflated as a motion artifact says, with or without its motion.


def build_video_unet(base: SDBase, inflation: InflationConfig, *, seed: int = 0) -> LAMPUNet:
    """Inflate `base.unet` in place (reproducibly: temporal attention's random init is seeded), eval mode.

    Without a motion loaded it is the untuned model: the image UNet applied frame by frame, with
    first-frame attention.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = LAMPUNet.from_unet2d(base.unet, inflation, base_identity=base.identity)
    unet.requires_grad_(False)
    return unet.eval()


def load_tuned_unet(
    base: SDBase, motion_dir: str | Path, *, force: bool = False
) -> tuple[LAMPUNet, MotionArtifactConfig]:
    """Inflate `base` with the artifact's inflation settings and load its motion (LampError if
    the artifact is unreadable or was tuned on another base, unless `force`)."""
    config = read_motion_config(motion_dir)
    unet = build_video_unet(base, config.inflation)
    load_motion(motion_dir, unet, force=force)
    return unet, config


# Contact sheets: many videos on one image, one row per video, frames left to right.

_LABEL_HEIGHT = 14
_GAP = 2
_BACKGROUND = (255, 255, 255)
_INK = (20, 20, 20)


def contact_sheet(
    videos: Sequence[np.ndarray],
    labels: Sequence[str] | None = None,
    *,
    max_frames: int = 16,
    min_frame_height: int = 64,
) -> np.ndarray:
    """One row per video (uint8 (T, H, W, 3), all of one size): up to `max_frames` frames evenly spread
    over the video, each frame enlarged (nearest neighbour, integer factor) to at least `min_frame_height`
    pixels, and the row's label written above it. Returns a uint8 (height, width, 3) image."""
    if not videos:
        raise ValueError("a contact sheet needs at least one video")
    sizes = {np.asarray(video).shape[1:] for video in videos}
    if len(sizes) != 1:
        raise ValueError(f"videos of a contact sheet must share one frame size, got {sorted(sizes)}")
    if labels is not None and len(labels) != len(videos):
        raise ValueError(f"{len(videos)} videos but {len(labels)} labels")
    height, width, _ = sizes.pop()
    factor = max(1, -(-min_frame_height // height))
    columns = min(max(len(video) for video in videos), max_frames)
    label_height = _LABEL_HEIGHT if labels is not None else 0
    row_height = label_height + height * factor + _GAP
    sheet = np.full((row_height * len(videos), columns * (width * factor + _GAP), 3), _BACKGROUND, np.uint8)
    for row, video in enumerate(videos):
        video = np.asarray(video)
        picks = np.linspace(0, len(video) - 1, min(columns, len(video))).round().astype(int)
        strip = video[picks].repeat(factor, axis=1).repeat(factor, axis=2)  # (n, H*f, W*f, 3)
        strip = np.pad(strip, ((0, 0), (0, 0), (0, _GAP), (0, 0)), constant_values=255)
        strip = strip.transpose(1, 0, 2, 3).reshape(height * factor, -1, 3)
        top = row * row_height + label_height
        sheet[top : top + height * factor, : strip.shape[1]] = strip
    image = Image.fromarray(sheet)
    if labels is not None:
        draw, font = ImageDraw.Draw(image), ImageFont.load_default()
        for row, label in enumerate(labels):
            draw.text((2, row * row_height + 1), label, fill=_INK, font=font)
    return np.asarray(image)


# A motion's evaluation prompts (`evaluation.<name>.eval_prompts` in params.yaml), parsed and checked.
#
# Each entry: `{prompt: str, first_frame: {render: {seed: N}} | {image: PATH} | {prompt: TEXT}}`, plus
# optional `seed` (the video's; default `generate.seed` + the entry's index) and `negative_prompt`.
# `{caption}` in a prompt is replaced by what the first frame shows: the rendered scene's caption, or the
# first-frame prompt (for an image, it is an error).

CAPTION_FIELD = "{caption}"
_KEYS = {"prompt", "first_frame", "seed", "negative_prompt"}


@dataclass(frozen=True)
class EvalPrompt:
    """One evaluation video to generate: its id, prompt template, first-frame source and seed."""

    video_id: str
    prompt: str
    first_frame: FirstFrameSpec
    seed: int
    negative_prompt: str | None = None

    def prompt_for(self, first_frame: FirstFrame) -> str:
        """The prompt with `{caption}` filled in from the first frame actually used."""
        if CAPTION_FIELD not in self.prompt:
            return self.prompt
        if first_frame.scene is not None:
            caption = first_frame.scene.caption
        elif self.first_frame.kind == "prompt":
            caption = str(self.first_frame.prompt)
        else:
            raise LampError(
                f"{self.video_id}: {CAPTION_FIELD} in the prompt needs a rendered or prompted first frame"
            )
        return self.prompt.replace(CAPTION_FIELD, caption)


def parse_eval_prompts(motion: str, entries: Any, base_seed: int) -> list[EvalPrompt]:
    """Parse `evaluation.<motion>.eval_prompts`; errors name the entry (`evaluation.x.eval_prompts[2]`)."""
    where = f"params.yaml: evaluation.{motion}.eval_prompts"
    if not isinstance(entries, list) or not entries:
        raise LampError(f"{where}: expected a non-empty list of {{prompt, first_frame}} entries")
    prompts = []
    for index, entry in enumerate(entries):
        at = f"{where}[{index}]"
        if not isinstance(entry, Mapping):
            raise LampError(f"{at}: expected a mapping with prompt and first_frame, got {entry!r}")
        unknown = sorted(set(entry) - _KEYS)
        if unknown:
            raise LampError(f"{at}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_KEYS))})")
        prompt = entry.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise LampError(f"{at}: prompt must be non-empty text")
        if "first_frame" not in entry:
            raise LampError(
                f"{at}: lacks first_frame ({{render: {{seed: N}}}}, {{image: PATH}} or {{prompt: TEXT}})"
            )
        spec = FirstFrameSpec.from_params(entry["first_frame"], at)
        if CAPTION_FIELD in prompt and spec.kind == "image":
            raise LampError(f"{at}: {CAPTION_FIELD} in the prompt needs a rendered or prompted first frame")
        seed = entry.get("seed", base_seed + index)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise LampError(f"{at}: seed must be an integer, got {seed!r}")
        negative = entry.get("negative_prompt")
        if negative is not None and not isinstance(negative, str):
            raise LampError(f"{at}: negative_prompt must be text, got {negative!r}")
        prompts.append(EvalPrompt(f"video_{index:02d}", prompt, spec, seed, negative))
    return prompts


# Writing generated videos as a sample folder (the contract between the generate and evaluate stages).
#
# `data/samples/<motion>/<variant>/` holds, per video, `<video_id>.mp4` (H.264), `<video_id>.gif` and
# `first_frames/<video_id>.png`; for all videos `videos.safetensors` (exact uint8 (T, H, W, 3) frames, key
# = video_id), `contact_sheet.png` and `index.csv` (paths relative to the folder).

CONTACT_SHEET_FILE = "contact_sheet.png"
FIRST_FRAMES_DIR = "first_frames"


@dataclass(frozen=True)
class GeneratedVideo:
    """One generated video and what it was generated from; frames are uint8 (T, H, W, 3)."""

    video_id: str
    prompt: str
    negative_prompt: str
    seed: int
    first_frame: FirstFrame
    frames: np.ndarray


def write_sample_folder(folder: str | Path, videos: Sequence[GeneratedVideo], fps: float) -> Path:
    """Write `videos` into `folder` (created) as the sample-folder contract says; returns the folder."""
    folder = Path(folder)
    if not videos:
        raise LampError(f"{folder}: no videos to write")
    ids = [video.video_id for video in videos]
    if len(set(ids)) != len(ids):
        raise LampError(f"{folder}: video ids are not unique: {ids}")
    (folder / FIRST_FRAMES_DIR).mkdir(parents=True, exist_ok=True)
    rows = []
    for video in videos:
        frames = np.ascontiguousarray(video.frames)
        png = f"{FIRST_FRAMES_DIR}/{video.video_id}.png"
        Image.fromarray(video.first_frame.image).save(folder / png)
        write_video(frames, folder / f"{video.video_id}.mp4", fps)
        write_video(frames, folder / f"{video.video_id}.gif", fps)
        rows.append(
            {
                "video_id": video.video_id,
                "prompt": video.prompt,
                "negative_prompt": video.negative_prompt,
                "seed": video.seed,
                "first_frame_source": video.first_frame.source,
                "first_frame_png": png,
                "scene_json": video.first_frame.scene_json,
                "mp4": f"{video.video_id}.mp4",
                "gif": f"{video.video_id}.gif",
                "n_frames": frames.shape[0],
                "fps": fps,
                "width": frames.shape[2],
                "height": frames.shape[1],
            }
        )
    save_file(
        {video.video_id: np.ascontiguousarray(video.frames) for video in videos},
        str(folder / SAMPLE_VIDEOS_FILE),
    )
    sheet = contact_sheet([video.frames for video in videos], [f"{v.video_id}: {v.prompt}" for v in videos])
    Image.fromarray(sheet).save(folder / CONTACT_SHEET_FILE)
    with (folder / SAMPLE_INDEX_FILE).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=INDEX_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return folder


logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenerateSettings:
    """The `generate:` section of params.yaml (the one home of its values): sampling knobs, memory options,
    and how the run goes."""

    sampling: SamplingConfig
    memory: MemoryOptions
    seed: int
    batch_size: int
    first_frame_model: str | None
    first_frame_steps: int
    first_frame_guidance: float
    device: str
    dtype: str
    threads: int

    @classmethod
    def from_params(cls, section: Mapping[str, Any] | None) -> GenerateSettings:
        """Read `generate:`: one flat section for the sampler's knobs, the memory options and the rest."""
        settings = read_settings(cls, section, "generate", flat=("sampling", "memory"))
        if settings.batch_size < 1:
            raise LampError(
                PARAMS_FILE, f"`generate.batch_size` must be 1 or more, got {settings.batch_size}"
            )
        if settings.threads < 0:
            raise LampError(
                PARAMS_FILE, f"`generate.threads` must be 0 (torch's default) or more, got {settings.threads}"
            )
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
