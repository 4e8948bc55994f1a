"""Builders of small evaluation inputs in temporary folders: a motion's frame cache (reference clips) and
the generate stage's sample folders, following the contracts (docs in lamp_core.report.samples)."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import yaml
from PIL import Image
from safetensors.numpy import save_file

from lamp_core.report.samples import INDEX_COLUMNS
from lamp_core.synthetic import Scene, render_clip, sample_scene

SIZE = 32
N_FRAMES = 8


def write_frame_cache(
    frames_dir: Path, motion: str, n_clips: int = 4, seed: int = 100, n_frames: int = 16
) -> Path:
    """data/frames/<motion>/ with `n_clips` rendered clips of `motion` at SIZE x SIZE, 8 fps."""
    rng = np.random.default_rng(seed)
    scenes = [sample_scene(motion, rng, SIZE, SIZE) for _ in range(n_clips)]
    clips = {f"clip_{i:04d}": render_clip(scene, n_frames, SIZE, SIZE) for i, scene in enumerate(scenes)}
    frames_dir.mkdir(parents=True, exist_ok=True)
    metadata = {"motion": motion, "fps": "8", "width": str(SIZE), "height": str(SIZE)}
    save_file(clips, str(frames_dir / "clips.safetensors"), metadata)
    _write_csv(
        frames_dir / "captions.csv",
        ("clip", "caption"),
        [(k, s.caption) for k, s in zip(clips, scenes, strict=True)],
    )
    _write_csv(
        frames_dir / "index.csv", ("clip", "source", "n_frames"), [(k, f"{k}.mp4", n_frames) for k in clips]
    )
    return frames_dir


def eval_scenes(motion: str, n_videos: int = 3, seed: int = 7) -> list[Scene]:
    """Scenes of `motion` for the evaluation's first frames (seeds the frame cache does not use).

    Orbits are drawn without background texture: the orbit criterion follows the turn of the mean flow,
    which a textured background's spurious flow disturbs at 32x32 by 1-3 degrees per frame (orbit is not
    a built-in motion; camera roll, measured by the similarity fit, is).
    """
    rng = np.random.default_rng(seed)
    scenes = [sample_scene(motion, rng, SIZE, SIZE) for _ in range(n_videos)]
    return [replace(scene, waves=()) for scene in scenes] if motion == "orbit" else scenes


def true_continuation(scene: Scene) -> np.ndarray:
    """The renderer's video of `scene`: what a model that learned the motion perfectly would generate."""
    return render_clip(scene, N_FRAMES, SIZE, SIZE)


def still_video(scene: Scene) -> np.ndarray:
    """The first frame repeated: what a model that learned no motion generates."""
    first = render_clip(scene, 1, SIZE, SIZE)
    return np.repeat(first, N_FRAMES, axis=0)


def write_sample_set(
    folder: Path, scenes: Sequence[Scene], videos: Sequence[np.ndarray], prompt: str = "an object moving"
) -> Path:
    """A variant folder (index.csv, videos.safetensors, first-frame PNGs, GIFs) of `videos` from `scenes`."""
    folder.mkdir(parents=True, exist_ok=True)
    rows, tensors = [], {}
    for i, (scene, video) in enumerate(zip(scenes, videos, strict=True)):
        video_id = f"v{i:03d}"
        tensors[video_id] = np.ascontiguousarray(video)
        Image.fromarray(render_clip(scene, 1, SIZE, SIZE)[0]).save(folder / f"{video_id}_first.png")
        frames = [Image.fromarray(frame) for frame in video]
        frames[0].save(
            folder / f"{video_id}.gif", save_all=True, append_images=frames[1:], duration=125, loop=0
        )
        rows.append(
            {
                "video_id": video_id,
                "prompt": f"{prompt} {i}",
                "negative_prompt": "",
                "seed": 1000 + i,
                "first_frame_source": "render",
                "first_frame_png": f"{video_id}_first.png",
                "scene_json": json.dumps(scene.to_dict()),
                "mp4": f"{video_id}.mp4",
                "gif": f"{video_id}.gif",
                "n_frames": len(video),
                "fps": 8,
                "width": video.shape[2],
                "height": video.shape[1],
            }
        )
    save_file(tensors, str(folder / "videos.safetensors"))
    _write_csv(folder / "index.csv", INDEX_COLUMNS, [[row[c] for c in INDEX_COLUMNS] for row in rows])
    return folder


def write_motion_inputs(
    root: Path, motion: str, n_videos: int = 3, learned: Sequence[bool] | None = None
) -> None:
    """data/frames/<motion>/ and data/samples/<motion>/{tuned,untuned}/ under `root`: the tuned model moves
    like the motion (true continuations) in the videos where `learned` is true, the untuned model never."""
    write_frame_cache(root / "data" / "frames" / motion, motion)
    scenes = eval_scenes(motion, n_videos)
    learned = [True] * n_videos if learned is None else list(learned)
    tuned = [true_continuation(s) if ok else still_video(s) for s, ok in zip(scenes, learned, strict=True)]
    samples = root / "data" / "samples" / motion
    write_sample_set(samples / "tuned", scenes, tuned)
    write_sample_set(samples / "untuned", scenes, [still_video(s) for s in scenes])


EXPECTED_MOTIONS = {"slide_right": {"direction_deg": 0}, "orbit": {"rotation": "clockwise"}}


def write_params(root: Path, motions: Sequence[str] = ("slide_right", "orbit"), **evaluate) -> Path:
    """params.yaml for `motions` at SIZE x SIZE with their expected motions; `evaluate:` = `evaluate`."""
    params = {
        "defaults": {
            "width": SIZE,
            "height": SIZE,
            "fps": 8,
            "n_frames": N_FRAMES,
            "sample_rate": 1,
            "min_clips": 2,
            "max_clip_seconds": 4,
        },
        "motions": {m: {"prompt": m.replace("_", " ")} for m in motions},
        "evaluation": {m: {"expected_motion": EXPECTED_MOTIONS.get(m)} for m in motions},
        "metrics": {"clip_model": "ViT-B-32", "clip_pretrained": None},
        "evaluate": evaluate or {"reference_gifs": 2},
    }
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def _write_csv(path: Path, header: Sequence[str], rows) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def run_evaluate(root: Path, motion: str) -> int:
    """`python -m stages.evaluate <motion>` for the project at `root`; returns its exit code."""
    from stages import evaluate

    folders = ["--data-dir", str(root / "data"), "--reports-dir", str(root / "reports")]
    return evaluate.main([motion, "--params", str(root / "params.yaml"), *folders])


def run_report(root: Path) -> int:
    """`python -m stages.report` for the project at `root`; returns its exit code."""
    from stages import report

    return report.main(["--params", str(root / "params.yaml"), "--reports-dir", str(root / "reports")])


def build_reported_project(root: Path) -> Path:
    """Two motions (slide_right: 3 videos, the second not learned; orbit: 2 learned videos), evaluated and
    reported under `root`. The orbit's prompt holds HTML, to check that pages escape it."""
    write_params(root)
    write_motion_inputs(root, "slide_right", n_videos=3, learned=[True, False, True])
    write_motion_inputs(root, "orbit", n_videos=2)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["motions"]["orbit"]["prompt"] = "an <b>orbit</b> & co"
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for motion in ("slide_right", "orbit"):
        if run_evaluate(root, motion) != 0:
            raise RuntimeError(f"evaluate {motion} failed")
    if run_report(root) != 0:
        raise RuntimeError("report failed")
    return root
