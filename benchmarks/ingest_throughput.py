"""Throughput of ingest and frame extraction on the built-in example motions, against ffmpeg alone.

For each example motion of params.yaml: render its raw videos into a temporary folder, then time
(best of --repeats runs, each from scratch)
- ingest: probe + normalise every raw video into clips (ffmpeg decode, resize/crop, H.264 encode);
- frames: decode every clip (decord) into the frame cache;
- ffmpeg null: the bundled ffmpeg decoding the same raw videos to the null muxer, one process per
  video as ingest runs it: the floor any ingest built on ffmpeg could reach.
Throughput is in source frames per second; the ratio is (ingest + frames) time / ffmpeg null time.

    python benchmarks/ingest_throughput.py [--repeats 3] [--params params.yaml]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from lamp_core.data import (
    CaptionSpec,
    ExampleSpec,
    IngestSettings,
    build_frame_cache,
    ingest_motion,
    render_examples,
)
from lamp_core.params import PARAMS_FILE, load_params, motion_config
from lamp_core.video import ffmpeg_exe, probe_video


def _best_time(run, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def _ffmpeg_null(paths: list[Path]) -> None:
    for path in paths:
        command = [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-i", f"file:{path}"]
        subprocess.run([*command, "-f", "null", "-"], check=True)


def benchmark_motion(params: dict, name: str, work: Path, repeats: int) -> dict[str, float]:
    """Times and frame counts of one example motion (see the module docstring)."""
    raw, clips, frames = work / "raw" / name, work / "clips" / name, work / "frames" / name
    videos = render_examples(ExampleSpec.from_params(params, name), raw)
    motion = motion_config(params, name)
    settings = IngestSettings.from_params(params, motion)
    source_frames = sum(probe_video(path).n_frames for path in videos)

    def ingest() -> None:
        shutil.rmtree(clips, ignore_errors=True)  # from scratch: no clip reused
        ingest_motion(raw, clips, settings)

    def extract() -> None:
        shutil.rmtree(frames, ignore_errors=True)
        build_frame_cache(clips, frames, motion, CaptionSpec("prompt"))

    t_ingest = _best_time(ingest, repeats)
    t_frames = _best_time(extract, repeats)
    t_null = _best_time(lambda: _ffmpeg_null(videos), repeats)
    return {
        "videos": len(videos),
        "frames": source_frames,
        "ingest_s": t_ingest,
        "frames_s": t_frames,
        "null_s": t_null,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default=PARAMS_FILE)
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement; the best counts")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    params = load_params(args.params)
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; best of {args.repeats}")
    header = f"{'motion':<12} {'videos':>6} {'frames':>6} {'ingest f/s':>10} {'frames f/s':>10} "
    print(header + f"{'both f/s':>9} {'ffmpeg null f/s':>15} {'ratio':>6}")
    with tempfile.TemporaryDirectory(prefix="lamp-bench-") as tmp:
        for name in params.get("examples") or {}:
            r = benchmark_motion(params, name, Path(tmp), args.repeats)
            both = r["ingest_s"] + r["frames_s"]
            print(
                f"{name:<12} {r['videos']:>6} {r['frames']:>6} {r['frames'] / r['ingest_s']:>10.0f} "
                f"{r['frames'] / r['frames_s']:>10.0f} {r['frames'] / both:>9.0f} "
                f"{r['frames'] / r['null_s']:>15.0f} {both / r['null_s']:>6.2f}"
            )


if __name__ == "__main__":
    main()
