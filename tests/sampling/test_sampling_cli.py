"""`lamp generate`, tried as a new user would: videos out, and one clear line for each mistake."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sampling_helpers import HEIGHT, WIDTH, toy_project

from lamp_core.cli import main
from lamp_core.sampling import render_first_frame
from lamp_core.synthetic import render_clip
from lamp_core.tiny_base.components import build_tiny_sd_components, save_tiny_sd
from lamp_core.video import probe_video, read_video, write_video

LAMP = Path(sys.executable).with_name("lamp")
QUICK = ["--steps", "2", "--frames", "4", "--first-frame-steps", "2"]


@pytest.fixture
def project(tmp_path: Path, tiny_sd_dir: Path, motion_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with params.yaml and a tuned slide_right, as the pipeline leaves it; the working dir."""
    toy_project(tmp_path, tiny_sd_dir, motion_dir, eval_prompts=[])
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _error_of(args: list[str], capsys: pytest.CaptureFixture) -> str:
    """The error line of a failing run: exactly one, the last line on stderr, and no traceback."""
    capsys.readouterr()
    assert main(["generate", *args]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in lines if line.startswith("lamp: error: ")]
    assert errors == lines[-1:] and not any("Traceback" in line for line in lines), lines
    return errors[0]


def test_console_command_writes_a_video_per_seed(project: Path) -> None:
    command = [
        str(LAMP),
        "generate",
        "--motion",
        "slide_right",
        "--prompt",
        "a red circle on a beige background",
    ]
    command += [*QUICK, "--seed", "1", "2", "--out", "out/circle.mp4", "--gif"]
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=project, capture_output=True, text=True, env=environment, timeout=300)
    assert done.returncode == 0, done.stderr
    written = done.stdout.split()
    assert written == [
        "out/circle-seed1.mp4",
        "out/circle-seed1.gif",
        "out/circle-seed2.mp4",
        "out/circle-seed2.gif",
    ]
    info = probe_video(project / "out/circle-seed1.mp4")
    assert (info.codec, info.width, info.height, info.n_frames) == ("h264", WIDTH, HEIGHT, 4)
    one, two = read_video(project / written[0]), read_video(project / written[2])
    assert not np.array_equal(one, two)
    assert "2 video(s) of 4 frames at 32x24" in done.stderr


def test_animating_a_users_image(project: Path, capsys: pytest.CaptureFixture) -> None:
    photo = render_first_frame("slide_right", 1234, 96, 60).image  # another size and aspect: fitted
    Image.fromarray(photo).save(project / "photo.png")
    assert (
        main(
            [
                "generate",
                "--motion",
                "slide_right",
                "--prompt",
                "a photo",
                "--first-frame",
                "photo.png",
                *QUICK,
            ]
        )
        == 0
    )
    path = Path(capsys.readouterr().out.strip())
    assert path == Path("outputs/slide_right/a-photo-seed0.mp4") and (project / path).is_file()


def test_artifact_folder_untuned_editing_and_long_videos(
    project: Path, capsys: pytest.CaptureFixture
) -> None:
    artifact = str(project / "data" / "motions" / "slide_right")
    common = ["--motion", artifact, "--prompt", "a blue square", "--width", "32", "--height", "24", *QUICK]
    assert main(["generate", *common, "--untuned", "--out", "untuned.gif"]) == 0
    assert capsys.readouterr().out.strip() == "untuned.gif"

    scene_clip = render_clip(render_first_frame("slide_right", 7, 32, 24).scene, 6, 32, 24)
    write_video(scene_clip, project / "source.mp4", 8)
    assert main(["generate", *common, "--edit-video", "source.mp4", "--out", "edited.mp4"]) == 0
    assert probe_video(project / "edited.mp4").n_frames == 4

    assert main(["generate", *common, "--total-frames", "10", "--out", "long.mp4"]) == 0
    assert probe_video(project / "long.mp4").n_frames == 10


def test_unknown_motion(project: Path, capsys: pytest.CaptureFixture) -> None:
    error = _error_of(["--motion", "horse_run", "--prompt", "a horse"], capsys)
    assert "unknown motion 'horse_run'" in error and "known: slide_right" in error
    shutil.rmtree(project / "data" / "motions" / "slide_right")
    error = _error_of(["--motion", "slide_right", "--prompt", "a"], capsys)
    assert "has no tuned artifact at data/motions/slide_right" in error


def test_unreadable_image(project: Path, capsys: pytest.CaptureFixture) -> None:
    error = _error_of(["--motion", "slide_right", "--prompt", "a", "--first-frame", "nope.png"], capsys)
    assert "nope.png: no such image file" in error
    (project / "notes.jpg").write_text("hello")
    error = _error_of(["--motion", "slide_right", "--prompt", "a", "--first-frame", "notes.jpg"], capsys)
    assert "notes.jpg: not an image file" in error


def test_size_not_a_multiple_of_8(project: Path, capsys: pytest.CaptureFixture) -> None:
    error = _error_of(["--motion", "slide_right", "--prompt", "a", "--width", "30"], capsys)
    assert "multiples of 8, got 30x24" in error


def test_motion_tuned_on_another_base(project: Path, capsys: pytest.CaptureFixture) -> None:
    sizes = dict(
        sample_size=32, vae_channels=(16, 32, 32), unet_channels=(32, 64), text_width=32, text_layers=1
    )
    save_tiny_sd(
        build_tiny_sd_components(seed=1, tokenizer_dir=project / "tok", **sizes), project / "other-base"
    )
    error = _error_of(["--motion", "slide_right", "--prompt", "a", "--base", "other-base", *QUICK], capsys)
    tuned_on = json.loads((project / "data/motions/slide_right/motion_config.json").read_text())["base"]
    assert f"tuned on base {tuned_on['source']!r}" in error and "the loaded base is 'other-base'" in error
