"""LAMP few-shot tuning of one motion, on `accelerate`: the same code on a CPU, one GPU, or many.

`tune_motion(job)`:
1. checks everything that can be checked before training (output folders writable with room to spare,
   frame cache readable and fitting the motion, base loadable, SD 1.x and of a fitting shape);
2. encodes the training frames (plain and mirrored) and captions once (`latent_cache`);
3. inflates the base (`lamp_core.model`), resumes from the last checkpoint of the same run if any;
4. trains with the LAMP objective (`lamp_loss`) on seeded random windows (`window_dataset`), AdamW,
   logging loss and learning rate (dvclive), checkpointing atomically, writing validation videos;
5. publishes the motion artifact and its model card atomically (`publish`).

Run several processes with `accelerate launch --multi_gpu --num_processes N -m stages.tune <motion>`
(on CPU-only machines too: accelerate then runs N CPU processes over gloo); each process takes its slice
of every step's global batch.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import gather_object
from diffusers import DDPMScheduler
from diffusers.optimization import get_scheduler
from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from lamp_core.atomic_write import recover_interrupted_replace
from lamp_core.data import FrameCache, load_frame_cache
from lamp_core.errors import LampError, VideoError
from lamp_core.model import LAMPUNet, SDBase, load_base, unet_content_hash
from lamp_core.params import PARAMS_FILE, MotionConfig
from lamp_core.paths import DATA_DIR, REPORTS_DIR, VALIDATION_DIR, motion_paths

from .checkpoint import (
    Checkpoint,
    latest_checkpoint_step,
    load_latest_checkpoint,
    remove_partial_checkpoints,
    save_checkpoint,
)
from .dataset import LATENT_CACHE_FILE, LatentCache, WindowSampler, build_latent_cache
from .lamp_loss import lamp_loss_step
from .publish import build_model_card, data_record, fingerprint, publish_motion
from .settings import ModelSettings, TuneSettings
from .training_log import (
    LEARNING_RATE,
    LOSS,
    TrainingLog,
    ValidationSpec,
    validation_video_path,
    write_validation_video,
)

logger = logging.getLogger(__name__)

# Domain tag of the per-step random stream (the window sampler uses 1 and 2).
_STEP_DRAWS = 3
# Room asked for beyond the estimate of what a run writes (filesystems report space loosely).
_SPACE_MARGIN = 1.5


@dataclass(frozen=True)
class TunePaths:
    """Where one motion's tuning reads and writes."""

    frames: Path  # the frame cache (input)
    output: Path  # the published motion artifact
    checkpoints: Path  # resumable checkpoints and the latent cache (not a DVC output)
    logs: Path  # dvclive log and validation videos
    manifest: Path | None = None  # the ingest manifest, hashed into the model card

    @classmethod
    def for_motion(
        cls, motion: str, data_dir: str | Path = DATA_DIR, reports_dir: str | Path = REPORTS_DIR
    ) -> TunePaths:
        paths = motion_paths(motion, data_dir, reports_dir)
        return cls(
            frames=paths.frames,
            output=paths.motion,
            checkpoints=paths.checkpoints,
            logs=paths.tune_reports,
            manifest=paths.manifest,
        )


@dataclass(frozen=True)
class TuneJob:
    """Everything one tuning run needs."""

    motion: MotionConfig
    tune: TuneSettings
    model: ModelSettings
    base: str  # the SD 1.x base: folder, hub id or single checkpoint file
    paths: TunePaths


@dataclass(frozen=True)
class TuneResult:
    """What a finished run did."""

    output: Path
    steps: int
    resumed_from: int  # 0: trained from the start
    final_loss: float
    train_seconds: float  # time in training steps of this invocation (no set-up, validation, checkpoints)
    steps_per_second: float


def tune_motion(job: TuneJob, accelerator: Accelerator | None = None) -> TuneResult:
    """Tune `job.motion` and publish its artifact at `job.paths.output`; resumes an interrupted run.

    Raises LampError naming the file or folder and the reason: bad settings, an unwritable output, an
    unreadable checkpoint or frame cache, a diverged loss (the last good checkpoint is kept, nothing is
    published), or an unusable base model (before any training).
    """
    settings = job.tune
    if settings.mixed_precision == "fp16" and not torch.cuda.is_available():
        raise LampError(PARAMS_FILE, "tune.mixed_precision fp16 needs a CUDA GPU (use bf16 or no on a CPU)")
    owns_accelerator = accelerator is None
    if accelerator is None:
        # Several processes without CUDA are CPU processes over gloo: accelerate must be told so.
        cpu_processes = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()
        accelerator = Accelerator(mixed_precision=settings.mixed_precision, cpu=cpu_processes)
    if accelerator.num_processes != settings.num_processes:
        logger.warning(
            "running %d process(es) while tune.num_processes is %d",
            accelerator.num_processes,
            settings.num_processes,
        )
    run = _set_up(job, accelerator)
    if run.start and accelerator.is_main_process:
        logger.info(
            "resuming %s from the checkpoint of step %d of %d", job.motion.name, run.start, settings.steps
        )
    train_seconds = _train(run)
    if run.start and accelerator.is_main_process:
        _restore_final_validation(run)
    if not run.history:
        raise LampError(job.paths.checkpoints, "the checkpoint holds no logged loss; delete it and re-run")
    final_loss = float(run.history[-1][LOSS])
    ran = settings.steps - run.start
    rate = ran / train_seconds if train_seconds > 0 else 0.0
    if run.log is not None:
        _publish(run, final_loss)
        # Only what the run computed: timings (stage output, reports/timings/) would change metrics.json,
        # which git tracks, on every run.
        run.log.summarise({"resumed_from": run.start})
    accelerator.wait_for_everyone()
    if owns_accelerator:
        # Destroys the process group of a multi-process run: a CPU process that exits with gloo's threads
        # still alive may abort ("terminate called without an active exception") after a finished run.
        accelerator.end_training()
    return TuneResult(job.paths.output, settings.steps, run.start, final_loss, train_seconds, rate)


@dataclass
class _Run:
    """A tuning run, set up: everything the training loop and publishing use."""

    job: TuneJob
    accelerator: Accelerator
    base: SDBase
    unet: LAMPUNet  # the inflated UNet itself (`model` may be its DistributedDataParallel wrapper)
    model: Any
    optimizer: Any
    lr_scheduler: Any
    cache: LatentCache
    sampler: WindowSampler
    validation: ValidationSpec
    run_hash: str
    data: dict[str, Any]
    start: int
    history: list[dict[str, float]]
    log: TrainingLog | None  # on the main process only


def _set_up(job: TuneJob, accelerator: Accelerator) -> _Run:
    """Checks, latent cache, inflated UNet and optimizer, resumed from a checkpoint when there is one."""
    settings, motion, paths = job.tune, job.motion, job.paths
    main = accelerator.is_main_process
    if main:
        _prepare_folders(paths)
    frames = load_frame_cache(paths.frames)
    _check_frames(frames, motion, paths.frames)
    base = load_base(job.base)
    _check_base_fits(base, motion, job.base)
    base.vae.to(accelerator.device)
    base.text_encoder.to(accelerator.device)

    data = data_record(paths.frames, frames, paths.manifest)
    inputs_hash = fingerprint(
        {
            "vae": unet_content_hash(base.vae),
            "text_encoder": unet_content_hash(base.text_encoder),
            "data": data,
        }
    )
    run_hash = fingerprint(
        {
            "base": base.content_hash,
            "inputs": inputs_hash,
            "motion": [motion.width, motion.height, motion.n_frames, motion.sample_rate],
            "tune": settings.learning_fields(),
            "model": job.model.to_dict(),
            "processes": accelerator.num_processes,
        }
    )
    keys = sorted(frames.clips)
    cache = _latent_cache(
        accelerator,
        paths,
        [frames.clips[k] for k in keys],
        [frames.captions[k] for k in keys],
        base,
        inputs_hash,
    )

    torch.manual_seed(settings.seed)  # temporal attention's q/k/v start from the global RNG
    unet = LAMPUNet.from_unet2d(
        base.unet,
        job.model.inflation,
        base_identity=base.identity,
        trainable_patterns=job.model.trainable_patterns,
    )
    if settings.gradient_checkpointing:
        unet.enable_gradient_checkpointing()
    if main:
        _check_free_space(paths, unet)

    resumed = load_latest_checkpoint(paths.checkpoints, run_hash, settings.steps)
    if resumed is not None:
        _load_trainable(unet, resumed.weights, paths.checkpoints)
    optimizer = _optimizer(unet, settings)
    lr_scheduler = get_scheduler(
        settings.lr_scheduler,
        optimizer=optimizer,
        num_warmup_steps=settings.lr_warmup_steps,
        num_training_steps=settings.steps,
    )
    unet.train()
    model, optimizer = accelerator.prepare(unet, optimizer)
    if resumed is not None:
        optimizer.load_state_dict(resumed.optimizer)
        lr_scheduler.load_state_dict(resumed.lr_scheduler)
        if resumed.grad_scaler is not None and accelerator.scaler is not None:
            accelerator.scaler.load_state_dict(resumed.grad_scaler)
    history = list(resumed.history) if resumed is not None else []

    return _Run(
        job=job,
        accelerator=accelerator,
        base=base,
        unet=unet,
        model=model,
        optimizer=optimizer,
        lr_scheduler=lr_scheduler,
        cache=cache,
        sampler=WindowSampler(
            cache.clip_lengths, motion.n_frames, motion.sample_rate, settings.seed, settings.flip_p
        ),
        validation=ValidationSpec.from_settings(
            cache.mean[0][0, 0],
            motion.prompt,
            motion.n_frames,
            motion.fps,
            settings.seed,
            settings.validation,
        ),
        run_hash=run_hash,
        data=data,
        start=resumed.step if resumed is not None else 0,
        history=history,
        log=TrainingLog(paths.logs, history) if main else None,
    )


def _train(run: _Run) -> float:
    """Train from `run.start` to the last step, logging, checkpointing and validating; returns the seconds
    spent in training steps."""
    settings, accelerator, paths = run.job.tune, run.accelerator, run.job.paths
    noise_scheduler = DDPMScheduler.from_config(run.base.scheduler_config)
    params = run.unet.trainable_parameters()
    check_gradients = (
        settings.mixed_precision != "fp16"
    )  # the fp16 grad scaler skips overflowing steps itself
    interval: list[float] = []
    train_seconds = 0.0
    bar = tqdm(
        total=settings.steps,
        initial=run.start,
        desc=f"tune {run.job.motion.name}",
        unit="step",
        disable=not accelerator.is_main_process,
        dynamic_ncols=True,
        mininterval=1.0,
    )
    with logging_redirect_tqdm(), bar:
        for step in range(run.start + 1, settings.steps + 1):
            began = time.perf_counter()
            step_seed = _step_seed(settings.seed, step, accelerator.process_index)
            torch.manual_seed(step_seed)  # implicit randomness (e.g. dropout) is a function of the step too
            generator = torch.Generator().manual_seed(step_seed)
            windows = run.sampler.process_batch(
                step, settings.batch_size, accelerator.process_index, accelerator.num_processes
            )
            latents = run.cache.videos(windows, [run.sampler.frame_indices(w) for w in windows], generator)
            text = run.cache.text_embeddings(windows).to(accelerator.device)
            with accelerator.autocast():
                loss = lamp_loss_step(
                    run.model, latents.to(accelerator.device), text, noise_scheduler, generator
                ).loss
            mean_loss = accelerator.reduce(loss.detach(), reduction="mean").item()
            if not math.isfinite(mean_loss):
                raise _non_finite(paths, step, f"the loss is {mean_loss}")
            accelerator.backward(loss)
            grad_norm = accelerator.clip_grad_norm_(params, settings.max_grad_norm)
            if check_gradients and grad_norm is not None and not math.isfinite(float(grad_norm)):
                raise _non_finite(paths, step, f"the gradient norm is {float(grad_norm)}")
            run.optimizer.step()
            run.lr_scheduler.step()
            run.optimizer.zero_grad(set_to_none=True)
            train_seconds += time.perf_counter() - began

            interval.append(mean_loss)
            learning_rate = run.lr_scheduler.get_last_lr()[0]
            last = step == settings.steps
            if step % settings.log_every == 0 or last:
                row = {"step": step, LOSS: float(np.mean(interval)), LEARNING_RATE: learning_rate}
                run.history.append(row)
                interval = []
                if run.log is not None:
                    run.log.log(step, row[LOSS], learning_rate)
            bar.set_postfix(loss=f"{mean_loss:.4f}", lr=f"{learning_rate:.2e}", refresh=False)
            bar.update(1)
            save = step % settings.checkpoint_every == 0 or last
            validate = settings.validate_every > 0 and (step % settings.validate_every == 0 or last)
            if save:
                _checkpoint(run, step)
            if validate and accelerator.is_main_process:
                _validate(run, step)
            if save or validate:
                accelerator.wait_for_everyone()
    return train_seconds


def _publish(run: _Run, final_loss: float) -> None:
    """Write the motion artifact with its model card (main process)."""
    job, motion = run.job, run.job.motion
    settings = {
        "prompt": motion.prompt,
        "width": motion.width,
        "height": motion.height,
        "fps": motion.fps,
        "n_frames": motion.n_frames,
        "sample_rate": motion.sample_rate,
    }
    metadata = {"motion": motion.name, "steps": job.tune.steps, "final_loss": final_loss, **settings}
    card = build_model_card(
        motion=motion.name,
        prompt=motion.prompt,
        base={"source": run.base.source, "content_hash": run.base.content_hash},
        params={
            "motion": settings,
            "tune": job.tune.to_dict(),
            "model": job.model.to_dict(),
            "base": {"model": job.base},
        },
        data=run.data,
        steps=job.tune.steps,
        final_loss=final_loss,
        training={
            "num_processes": run.accelerator.num_processes,
            "device": run.accelerator.device.type,
            "optimizer": type(run.optimizer.optimizer).__name__,
            "trainable_parameters": sum(p.numel() for p in run.unet.trainable_parameters()),
        },
    )
    publish_motion(job.paths.output, run.unet, metadata=metadata, card=card)


# ----- checks before training -----


def _prepare_folders(paths: TunePaths) -> None:
    """Create the output folders, prove they are writable, and undo what a killed run left half-done."""
    for folder in (paths.checkpoints, paths.logs, paths.output.parent):
        probe = folder / ".lamp-write-test"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            raise LampError(folder, f"cannot write here ({exc.strerror or exc})") from None
    try:
        recover_interrupted_replace(paths.output)
    except OSError as exc:
        raise LampError(
            paths.output, f"cannot restore the previous artifact ({exc.strerror or exc})"
        ) from None
    remove_partial_checkpoints(paths.checkpoints)
    # A declared output of the tune stage, so it exists even when no validation video is asked for.
    (paths.logs / VALIDATION_DIR).mkdir(exist_ok=True)


def _check_frames(frames: FrameCache, motion: MotionConfig, folder: Path) -> None:
    """The frame cache must match the motion's W x H and hold at least one window per clip."""
    if not frames.clips:
        raise LampError(folder, "the frame cache holds no clips")
    if (frames.width, frames.height) != (motion.width, motion.height):
        raise LampError(
            folder,
            f"frames are {frames.width}x{frames.height} but motion {motion.name!r} is {motion.width}x"
            f"{motion.height}: re-run the frames stage",
        )
    span = (motion.n_frames - 1) * motion.sample_rate + 1
    for key, clip in sorted(frames.clips.items()):
        if clip.ndim != 4 or clip.shape[1:] != (motion.height, motion.width, 3) or clip.dtype != np.uint8:
            raise LampError(
                folder,
                f"{key}: expected uint8 (T, {motion.height}, {motion.width}, 3), got "
                f"{clip.dtype} {tuple(clip.shape)}",
            )
        if len(clip) < span:
            raise LampError(
                folder,
                f"{key} has {len(clip)} frames; a window of {motion.n_frames} frames at stride "
                f"{motion.sample_rate} needs {span}: re-run the frames stage",
            )


def _check_base_fits(base: SDBase, motion: MotionConfig, source: str) -> None:
    """The motion's W x H must map to latents the UNet can down- and upsample."""
    factor = 2 ** (len(base.vae.config.block_out_channels) - 1)
    unet_factor = 2 ** sum(1 for block in base.unet.down_blocks if block.downsamplers is not None)
    step = factor * unet_factor
    if motion.width % step or motion.height % step:
        raise LampError(
            f"{source}: motion {motion.name!r} is {motion.width}x{motion.height}, but this base needs width "
            f"and height in multiples of {step} (VAE x{factor}, UNet x{unet_factor})"
        )


def _check_free_space(paths: TunePaths, unet: LAMPUNet) -> None:
    """Refuse to start when the disk cannot hold what the run will write (two checkpoints, two artifacts)."""
    checkpoint = sum(p.numel() for p in unet.trainable_parameters()) * 4 * 3  # weights, AdamW's 2 moments
    artifact = sum(t.numel() for t in unet.motion_state_dict().values()) * 4
    needed = int(_SPACE_MARGIN * (2 * checkpoint + 2 * artifact))
    for folder in (paths.checkpoints, paths.output.parent):
        free = shutil.disk_usage(folder).free
        if free < needed:
            raise LampError(
                folder,
                f"not enough free space: the run writes about {needed / 1e6:.0f} MB, "
                f"{free / 1e6:.0f} MB free",
            )


# ----- training pieces -----


def _latent_cache(
    accelerator: Accelerator,
    paths: TunePaths,
    clips: list[np.ndarray],
    captions: list[str],
    base: SDBase,
    inputs_hash: str,
) -> LatentCache:
    """The run's latent cache: read from the checkpoint folder, or built by the main process and saved."""
    file = paths.checkpoints / LATENT_CACHE_FILE
    cache = LatentCache.load(file, inputs_hash) if accelerator.is_main_process else None
    if accelerator.is_main_process and cache is None:
        cache = build_latent_cache(
            clips, captions, base.vae, base.tokenizer, base.text_encoder, inputs_hash, accelerator.device
        )
        cache.save(file)
    accelerator.wait_for_everyone()
    if cache is None:
        cache = LatentCache.load(file, inputs_hash) or build_latent_cache(
            clips, captions, base.vae, base.tokenizer, base.text_encoder, inputs_hash, accelerator.device
        )
    return cache


def _optimizer(unet: LAMPUNet, settings: TuneSettings) -> torch.optim.Optimizer:
    """AdamW (8-bit from bitsandbytes when asked) on the trainable parameters, with the run's settings."""
    if settings.use_8bit_adam:
        import bitsandbytes

        adamw: type[torch.optim.Optimizer] = bitsandbytes.optim.AdamW8bit
    else:
        adamw = torch.optim.AdamW
    return adamw(
        unet.trainable_parameters(),
        lr=settings.learning_rate,
        betas=(settings.adam_beta1, settings.adam_beta2),
        weight_decay=settings.adam_weight_decay,
        eps=settings.adam_epsilon,
    )


def _load_trainable(unet: LAMPUNet, weights: dict[str, torch.Tensor], folder: Path) -> None:
    params = {name: p for name, p in unet.named_parameters() if p.requires_grad}
    if weights.keys() != params.keys():
        raise LampError(
            folder, "the checkpoint's weights do not match the model; delete the folder and re-run"
        )
    with torch.no_grad():
        for name, param in params.items():
            param.copy_(weights[name])


def _step_seed(seed: int, step: int, process: int) -> int:
    return int(np.random.SeedSequence([seed, _STEP_DRAWS, step, process]).generate_state(1)[0])


def _weights_digest(unet: LAMPUNet) -> str:
    digest = hashlib.sha256()
    for name, param in unet.named_parameters():
        if param.requires_grad:
            digest.update(name.encode())
            digest.update(param.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()


def _checkpoint(run: _Run, step: int) -> None:
    """Save a checkpoint (main process), after checking that every process holds the same weights."""
    accelerator, folder = run.accelerator, run.job.paths.checkpoints
    digests = gather_object([_weights_digest(run.unet)])
    if len(set(digests)) != 1:
        raise LampError(folder, f"step {step}: the processes' weights differ ({len(set(digests))} versions)")
    if accelerator.is_main_process:
        state = Checkpoint(
            step=step,
            fingerprint=run.run_hash,
            weights={name: p for name, p in run.unet.named_parameters() if p.requires_grad},
            optimizer=run.optimizer.state_dict(),
            lr_scheduler=run.lr_scheduler.state_dict(),
            grad_scaler=accelerator.scaler.state_dict() if accelerator.scaler is not None else None,
            history=run.history,
            rank_digests=list(digests),
        )
        save_checkpoint(folder, state)


def _restore_final_validation(run: _Run) -> None:
    # DVC removes a stage's outputs before it runs again. A run resumed at (or past) its last validation
    # step did not render that video in this invocation: render it again so the outputs are complete.
    settings = run.job.tune
    if settings.validate_every <= 0:
        return
    if not validation_video_path(run.job.paths.logs / VALIDATION_DIR, settings.steps).exists():
        _validate(run, settings.steps)


def _validate(run: _Run, step: int) -> None:
    """Write the validation video of `step`; a failure to write it is reported, not fatal."""
    folder = run.job.paths.logs / VALIDATION_DIR
    try:
        with run.accelerator.autocast():
            path = write_validation_video(
                run.unet, run.base, run.validation, folder, step, run.accelerator.device
            )
    except VideoError as exc:
        logger.warning("step %d: no validation video (%s)", step, exc)
        return
    logger.info("step %d: validation video %s", step, path)


def _non_finite(paths: TunePaths, step: int, what: str) -> LampError:
    """The error that stops a diverged run; the last checkpoint on disk is the last good one."""
    kept = latest_checkpoint_step(paths.checkpoints)
    checkpoint = (
        f"the last good checkpoint (step {kept}) is kept" if kept else "no checkpoint had been written yet"
    )
    return LampError(
        paths.checkpoints,
        f"step {step}: {what}; training stopped, nothing was published, and {checkpoint}. "
        "Lower tune.learning_rate or tune.max_grad_norm, or check the data",
    )
