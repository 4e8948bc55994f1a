"""The built-in example motions and the stage entry points examples -> ingest -> frames."""

from __future__ import annotations

import csv

import pytest
import yaml
from pipeline_settings import PARAMS

from lamp_core.data import ExampleSpec, load_frame_cache, read_manifest, render_examples
from lamp_core.errors import LampError
from lamp_core.video import probe_video
from stages import examples as examples_stage
from stages import frames as frames_stage
from stages import ingest as ingest_stage

SPEC = ExampleSpec(motion="slide_right", n_clips=4, n_frames=12, width=56, height=48, fps=8, seed=7)


def test_examples_are_real_h264_files_with_captions(tmp_path):
    paths = render_examples(SPEC, tmp_path / "slide_right")
    assert [p.name for p in paths] == [f"slide_right_{k:03d}.mp4" for k in range(4)]
    for path in paths:
        info = probe_video(path)
        assert (info.codec, info.width, info.height, info.n_frames, info.fps) == ("h264", 56, 48, 12, 8.0)
    with (tmp_path / "slide_right" / "captions.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["file"] for row in rows] == [p.name for p in paths]
    assert all(row["caption"].startswith(("a ", "an ")) and " on a " in row["caption"] for row in rows)


def test_examples_are_deterministic_from_the_seed(tmp_path):
    first = [p.read_bytes() for p in render_examples(SPEC, tmp_path / "a")]
    assert [p.read_bytes() for p in render_examples(SPEC, tmp_path / "b")] == first
    other = ExampleSpec(**{**SPEC.__dict__, "seed": 8})
    assert [p.read_bytes() for p in render_examples(other, tmp_path / "c")] != first


def test_examples_never_touch_a_users_files(tmp_path):
    folder = tmp_path / "slide_right"
    folder.mkdir()
    (folder / "my holiday.mp4").write_bytes(b"precious")
    with pytest.raises(LampError, match=r"my holiday\.mp4"):
        render_examples(SPEC, folder)
    assert (folder / "my holiday.mp4").read_bytes() == b"precious"
    assert sorted(p.name for p in folder.iterdir()) == ["my holiday.mp4"]


def test_example_spec_errors():
    with pytest.raises(LampError, match="no example named 'spin'"):
        ExampleSpec.from_params({"examples": {"orbit": {}}}, "spin")
    with pytest.raises(LampError, match=r"examples\.orbit lacks width"):
        ExampleSpec.from_params({"examples": {"orbit": {"n_clips": 2, "n_frames": 8}}}, "orbit")


def _params(tmp_path, **frames) -> str:
    params = {
        "defaults": {"width": 32, "height": 32, "fps": 8, "n_frames": 8, "sample_rate": 1, "min_clips": 3,
                     "max_clip_seconds": 4},
        "examples": {"slide_right": {"n_clips": 3, "n_frames": 12, "width": 56, "height": 48, "fps": 8,
                                     "seed": 1}},
        "motions": {"slide_right": {"prompt": "an object sliding right"}},
        "ingest": PARAMS["ingest"],
        "frames": {"caption_source": "prompt", "captioner": None, **frames},
    }  # fmt: skip
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    return str(path)


def test_stages_run_end_to_end(tmp_path, capsys):
    options = ["--params", _params(tmp_path, caption_source="sidecar"), "--data-dir", str(tmp_path / "data")]
    assert examples_stage.main(["slide_right", *options]) == 0
    assert ingest_stage.main(["slide_right", *options]) == 0
    assert frames_stage.main(["slide_right", *options]) == 0
    out = capsys.readouterr().out
    assert "ingest slide_right: 3 clips from 3 files (0 rejected, 0 unchanged)" in out
    assert "frames slide_right: 3 clips, 36 frames" in out
    rows = read_manifest(tmp_path / "data" / "clips" / "slide_right" / "manifest.csv")
    cache = load_frame_cache(tmp_path / "data" / "frames" / "slide_right")
    assert list(cache.captions.values()) == [row.caption for row in rows]  # the renderer's scene captions
    assert all(clip.shape == (12, 32, 32, 3) for clip in cache.clips.values())


def test_stage_errors_are_one_line(tmp_path, capsys):
    options = ["--params", _params(tmp_path), "--data-dir", str(tmp_path / "data")]
    assert ingest_stage.main(["slide_right", *options]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "raw/slide_right: folder does not exist" in err and "\n" not in err
    assert frames_stage.main(["slide_right", *options]) == 1
    assert "run the ingest stage first" in capsys.readouterr().err
    assert ingest_stage.main(["unknown", *options]) == 1
    assert "no motion named 'unknown'" in capsys.readouterr().err
    assert examples_stage.main(["unknown", *options]) == 1
    assert "no example named 'unknown'" in capsys.readouterr().err
