"""The `lamp` console command.

    lamp generate --motion slide_right --prompt "a red circle on a beige background, sliding right"
    lamp generate --motion data/motions/slide_down --prompt "..." --first-frame photo.jpg --seed 1 2 3
    lamp generate --motion slide_right --prompt "..." --edit-video clip.mp4     # video editing
    lamp generate --motion slide_right --prompt "..." --total-frames 48         # chained windows

Defaults are the paper's (50 DDIM steps, guidance 12.5, shared noise 0.2, AdaIN switch after 31 of 50
steps, histogram matching on); size, frame count and fps come from the motion's params.yaml entry when
it has one, else 512x320, 16 frames, 8 fps. Errors are one line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lamp_core.errors import LampError
from lamp_core.model import LAMPUNet, MotionArtifactConfig, SDBase, load_base, load_motion, read_motion_config
from lamp_core.params import PARAMS_FILE, load_params, motion_config
from lamp_core.paths import DATA_DIR, motion_paths
from lamp_core.sampling import (
    FirstFrame,
    MemoryOptions,
    SamplingConfig,
    TextToImage,
    build_video_unet,
    edit_video,
    fit_image,
    load_image,
    resolve_device,
    resolve_dtype,
    sample_long_video,
    sample_videos,
)
from lamp_core.sampling.lamp_sampler import check_frame_size
from lamp_core.video import read_video, write_video

PAPER_SIZE = {"width": 512, "height": 320, "n_frames": 16, "fps": 8.0}


@dataclass(frozen=True)
class MotionChoice:
    """The motion artifact to load, and the params.yaml settings of its motion when it has an entry."""

    name: str
    artifact_dir: Path
    artifact: MotionArtifactConfig
    size: dict[str, float]
    base_from_params: str | None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `lamp`; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except LampError as exc:
        print(f"lamp: error: {exc}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lamp", description="LAMP: few-shot motion learning for video generation"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    generate = commands.add_parser(
        "generate",
        help="generate videos with a tuned motion",
        description="Generate videos with a tuned motion: the first frame is given or made by a "
        "text-to-image model, LAMP generates the rest.",
    )
    generate.set_defaults(run=_generate)
    what = generate.add_argument_group("what to generate")
    what.add_argument("--motion", required=True, help="a motion of params.yaml, or a motion artifact folder")
    what.add_argument("--prompt", required=True, help="the video's prompt")
    first = what.add_mutually_exclusive_group()
    first.add_argument("--first-frame", metavar="IMAGE", help="image to animate (resized and centre-cropped)")
    first.add_argument(
        "--first-frame-prompt",
        metavar="TEXT",
        help="text-to-image prompt of the first frame (default: --prompt)",
    )
    what.add_argument(
        "--first-frame-model",
        metavar="MODEL",
        help="text-to-image model of the first frame: hub id or diffusers folder, e.g. SD-XL (default: base)",
    )
    what.add_argument("--first-frame-steps", type=int, default=50, help="its DDIM steps (default: 50)")
    what.add_argument("--first-frame-guidance", type=float, default=7.5, help="its CFG scale (default: 7.5)")
    what.add_argument("--seed", type=int, nargs="+", default=[0], help="one video per seed (default: 0)")
    what.add_argument(
        "--out", default=None, help="output .mp4/.gif file or folder (default: outputs/<motion>/)"
    )
    what.add_argument("--gif", action="store_true", help="also write a GIF beside each MP4")
    what.add_argument("--untuned", action="store_true", help="sample the untuned (freshly inflated) model")
    what.add_argument(
        "--edit-video", metavar="VIDEO", help="video editing: start from this video's DDIM inversion"
    )
    what.add_argument(
        "--total-frames",
        type=int,
        help="longer video: chain windows up to this many frames (beyond the paper)",
    )

    knobs = generate.add_argument_group("sampling (defaults: the paper's)")
    defaults = SamplingConfig.paper()
    knobs.add_argument(
        "--steps", type=int, default=defaults.num_inference_steps, help="DDIM steps (%(default)s)"
    )
    knobs.add_argument(
        "--guidance", type=float, default=defaults.guidance_scale, help="CFG scale (%(default)s)"
    )
    knobs.add_argument(
        "--negative-prompt", default=defaults.negative_prompt, help="negative prompt (%(default)r)"
    )
    knobs.add_argument(
        "--shared-noise",
        type=float,
        default=defaults.shared_noise_weight,
        help="shared-noise weight (%(default)s)",
    )
    knobs.add_argument(
        "--adain-switch",
        type=float,
        default=defaults.adain_switch_fraction,
        help="AdaIN takes the first frame's statistics once the step index exceeds this share of the steps "
        "(%(default)s: after 31 of 50 steps, as the reference code)",
    )
    knobs.add_argument("--no-adain", action="store_true", help="turn AdaIN on latents off")
    knobs.add_argument("--no-histogram-matching", action="store_true", help="turn histogram matching off")
    knobs.add_argument("--frames", type=int, help="frames per video (motion's n_frames, else 16)")
    knobs.add_argument("--width", type=int, help="width in pixels, a multiple of 8 (motion's, else 512)")
    knobs.add_argument("--height", type=int, help="height in pixels, a multiple of 8 (motion's, else 320)")
    knobs.add_argument("--fps", type=float, help="frames per second of the file (motion's, else 8)")

    setup = generate.add_argument_group("models and hardware")
    setup.add_argument(
        "--base", help="SD 1.x base (default: the artifact's base, else params.yaml base.model)"
    )
    setup.add_argument("--params", default=PARAMS_FILE, help="parameters file (default: %(default)s)")
    setup.add_argument("--data-dir", default=DATA_DIR, help="motion artifacts folder (default: %(default)s)")
    setup.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ... (default: auto)")
    setup.add_argument("--dtype", default="auto", help="auto (float16 on CUDA), float32, float16, bfloat16")
    setup.add_argument("--vae-slicing", action="store_true", help="VAE: one frame at a time")
    setup.add_argument("--vae-tiling", action="store_true", help="VAE: overlapping tiles (large frames)")
    setup.add_argument(
        "--cpu-offload", action="store_true", help="keep models on the CPU, move each in to run"
    )
    return parser


def _generate(args: argparse.Namespace) -> int:
    choice = _choose_motion(args.motion, Path(args.params), Path(args.data_dir))
    width = args.width or int(choice.size["width"])
    height = args.height or int(choice.size["height"])
    n_frames = args.frames or int(choice.size["n_frames"])
    fps = args.fps or float(choice.size["fps"])
    if width % 8 or height % 8 or width <= 0 or height <= 0:
        raise LampError(f"--width/--height must be positive multiples of 8, got {width}x{height}")
    if n_frames < 2:
        raise LampError(f"--frames must be at least 2, got {n_frames}")
    if args.total_frames is not None and args.total_frames < 2:
        raise LampError(f"--total-frames must be at least 2, got {args.total_frames}")
    if args.total_frames is not None and args.edit_video:
        raise LampError(
            "--total-frames and --edit-video cannot be combined (an edit has the source's length)"
        )
    config = SamplingConfig(
        num_inference_steps=args.steps,
        guidance_scale=args.guidance,
        negative_prompt=args.negative_prompt,
        shared_noise_weight=args.shared_noise,
        adain=not args.no_adain,
        adain_switch_fraction=args.adain_switch,
        histogram_matching=not args.no_histogram_matching,
    )
    memory = MemoryOptions(
        vae_slicing=args.vae_slicing, vae_tiling=args.vae_tiling, cpu_offload=args.cpu_offload
    )
    device = resolve_device(args.device)
    dtype = resolve_dtype(args.dtype, device)
    # Cheap checks first: the image and the source video are read before any model is loaded.
    user_image = load_image(args.first_frame, width, height) if args.first_frame else None
    source_video = _read_source_video(args.edit_video, n_frames, width, height) if args.edit_video else None
    outputs = _output_paths(args.out, choice.name, args.prompt, args.seed, args.gif)

    base_source = args.base or _artifact_base(choice) or choice.base_from_params
    if base_source is None:
        raise LampError(
            choice.artifact_dir,
            f"the base it was tuned on ({choice.artifact.base.source}) is not found from here and no "
            "params.yaml sets `base.model`: pass --base (a folder, hub id or .safetensors file)",
        )
    print(f"loading base {base_source} ...", file=sys.stderr)
    base = load_base(base_source, torch_dtype=None if dtype == torch.float32 else dtype)
    check_frame_size(base.vae, width, height)
    if not memory.cpu_offload:
        base.to(device)
    first_frames = _first_frames(args, base, user_image, source_video, width, height, device, dtype, memory)

    unet = build_video_unet(base, choice.artifact.inflation)
    if not args.untuned:
        load_motion(choice.artifact_dir, unet)
    started = time.perf_counter()
    videos = _sample(args, unet, base, first_frames, source_video, n_frames, config, memory, device)
    elapsed = time.perf_counter() - started
    for video, paths in zip(videos, outputs, strict=True):
        for path in paths:
            write_video(video, path, fps)
            print(path)
    print(
        f"{len(videos)} video(s) of {videos[0].shape[0]} frames at {width}x{height} in {elapsed:.1f} s "
        f"({'untuned' if args.untuned else choice.name}, {config.num_inference_steps} steps, {device})",
        file=sys.stderr,
    )
    return 0


def _choose_motion(motion: str, params_path: Path, data_dir: Path) -> MotionChoice:
    """A params.yaml motion name (its artifact in <data-dir>/motions/<name>) or an artifact folder."""
    params = load_params(params_path) if params_path.is_file() else {}
    known = sorted(params.get("motions") or {})
    base_from_params = (params.get("base") or {}).get("model")
    folder = Path(motion)
    if folder.is_dir():
        name = folder.resolve().name
        artifact_dir = folder
    elif motion in known:
        name = motion
        artifact_dir = motion_paths(motion, data_dir).motion
        if not artifact_dir.is_dir():
            raise LampError(
                f"motion {motion!r} has no tuned artifact at {artifact_dir} "
                f"(run `dvc repro tune@{motion}` first)"
            )
    else:
        listed = ", ".join(known) if known else f"none: no {params_path} here"
        raise LampError(
            f"unknown motion {motion!r}: not a motion of {params_path} (known: {listed}) "
            "nor a motion artifact folder"
        )
    artifact = read_motion_config(artifact_dir)
    size = dict(PAPER_SIZE)
    if name in known:
        config = motion_config(params, name)
        size = {
            "width": config.width,
            "height": config.height,
            "n_frames": config.n_frames,
            "fps": config.fps,
        }
    return MotionChoice(name, artifact_dir, artifact, size, base_from_params)


def _artifact_base(choice: MotionChoice) -> str | None:
    """The base the artifact was tuned on, when that source can be found from here."""
    source = choice.artifact.base.source
    if Path(source).exists() or (
        re.fullmatch(r"[\w.-]+/[\w.-]+", source) and not Path(source).parent.is_dir()
    ):
        return source
    return None


def _read_source_video(path: str, n_frames: int, width: int, height: int) -> np.ndarray:
    """The first `n_frames` frames of the video to edit, each resized and centre-cropped to W x H."""
    frames = read_video(path)
    if len(frames) < 2:
        raise LampError(f"{path}: a video to edit needs at least 2 frames, it has {len(frames)}")
    return np.stack([fit_image(frame, width, height) for frame in frames[:n_frames]])


def _first_frames(
    args: argparse.Namespace,
    base: SDBase,
    user_image: np.ndarray | None,
    source_video: np.ndarray | None,
    width: int,
    height: int,
    device: torch.device,
    dtype: torch.dtype,
    memory: MemoryOptions,
) -> list[FirstFrame]:
    """One first frame per seed: the user's image, the edited video's frame 1, or text-to-image."""
    if user_image is not None:
        return [FirstFrame(user_image, f"image:{args.first_frame}")] * len(args.seed)
    if source_video is not None and not args.first_frame_prompt:
        return [FirstFrame(source_video[0], f"video:{args.edit_video}")] * len(args.seed)
    prompt = args.first_frame_prompt or args.prompt
    settings = {"steps": args.first_frame_steps, "guidance_scale": args.first_frame_guidance}
    if args.first_frame_model:
        print(f"loading first-frame model {args.first_frame_model} ...", file=sys.stderr)
        model = TextToImage.load(
            args.first_frame_model, device=device, dtype=dtype, cpu_offload=memory.cpu_offload, **settings
        )
    else:
        model = TextToImage.from_base(base, **settings)
    images = model.generate([prompt] * len(args.seed), list(args.seed), width, height)
    return [FirstFrame(image, f"t2i:{model.name}") for image in images]


def _sample(
    args: argparse.Namespace,
    unet: LAMPUNet,
    base: SDBase,
    first_frames: list[FirstFrame],
    source_video: np.ndarray | None,
    n_frames: int,
    config: SamplingConfig,
    memory: MemoryOptions,
    device: torch.device,
) -> list[np.ndarray]:
    progress = _Progress()
    if source_video is not None:
        return [
            edit_video(
                unet,
                base,
                source_video,
                args.prompt,
                first_frame=frame.image,
                seed=seed,
                config=config,
                memory=memory,
                device=device,
                progress=progress,
            )
            for frame, seed in zip(first_frames, args.seed, strict=True)
        ]
    if args.total_frames is not None and args.total_frames > n_frames:
        return [
            sample_long_video(
                unet,
                base,
                args.prompt,
                frame.image,
                total_frames=args.total_frames,
                window_frames=n_frames,
                seed=seed,
                config=config,
                memory=memory,
                device=device,
                progress=progress,
            )
            for frame, seed in zip(first_frames, args.seed, strict=True)
        ]
    videos = sample_videos(
        unet,
        base,
        [args.prompt] * len(args.seed),
        [frame.image for frame in first_frames],
        list(args.seed),
        n_frames=n_frames,
        config=config,
        memory=memory,
        device=device,
        progress=progress,
    )
    return list(videos)


def _output_paths(out: str | None, motion: str, prompt: str, seeds: list[int], gif: bool) -> list[list[Path]]:
    """Per seed, the files to write: `out` itself for one seed, else `<stem>-seed<N><ext>`; in a folder,
    `<prompt-slug>-seed<N>.mp4`. With --gif, a .gif beside each .mp4."""
    slug = re.sub(r"[^a-z0-9]+", "-", prompt.lower()).strip("-")[:60] or "video"
    target = Path(out) if out else Path("outputs") / motion
    if target.suffix:
        if target.suffix.lower() not in (".mp4", ".gif"):
            raise LampError(f"--out {target}: the file must end in .mp4 or .gif (or name a folder)")
        if len(seeds) == 1:
            files = [target]
        else:
            files = [target.with_name(f"{target.stem}-seed{seed}{target.suffix}") for seed in seeds]
    else:
        files = [target / f"{slug}-seed{seed}.mp4" for seed in seeds]
    return [
        [path, path.with_suffix(".gif")] if gif and path.suffix.lower() == ".mp4" else [path]
        for path in files
    ]


class _Progress:
    """Prints `step/total` on one line of stderr while sampling."""

    def __init__(self) -> None:
        self.last = 0.0

    def __call__(self, step: int, total: int) -> None:
        now = time.perf_counter()
        if step == total or now - self.last > 0.5:
            self.last = now
            end = "\n" if step == total else ""
            print(f"\rsampling: step {step}/{total}", end=end, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
