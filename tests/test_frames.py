"""The frame cache: decoded clips in clips.safetensors, captions.csv and index.csv (training's contract)."""

from __future__ import annotations

import csv
import logging
import shutil

import numpy as np
import pytest
from pipeline_settings import from_params
from safetensors import safe_open

from lamp_core.data import CaptionSpec, IngestSettings, build_frame_cache, ingest_motion, load_frame_cache
from lamp_core.errors import LampError
from lamp_core.params import motion_config
from lamp_core.video import read_video

DEFAULTS = {
    "width": 32,
    "height": 32,
    "fps": 8,
    "n_frames": 8,
    "sample_rate": 1,
    "min_clips": 3,
    "max_clip_seconds": 4,
}
PROMPT = "a pattern drifting"


def _motion(**overrides):
    params = {"defaults": {**DEFAULTS, **overrides}, "motions": {"drift": {"prompt": PROMPT}}}
    return motion_config(params, "drift")


@pytest.fixture(scope="module")
def clips_dir(tmp_path_factory, media):
    """Ingested clips of 5 videos: four of 3 s (24 frames) and one of 2 s (16 frames); two captioned."""
    root = tmp_path_factory.mktemp("frames")
    raw = root / "raw"
    raw.mkdir()
    for k in range(4):
        media.make_video(raw / f"v{k}.mp4", variant=k, seconds=3)
    media.make_video(raw / "v4 short.mp4", variant=4, seconds=2)
    (raw / "captions.csv").write_text("file,caption\nv0.mp4,first one\nv2.mp4,third one\n", encoding="utf-8")
    settings = from_params(
        IngestSettings, "ingest", width=32, height=32, fps=8, window_frames=8, max_clip_frames=32, min_clips=3
    )
    ingest_motion(raw, root / "clips", settings)
    return root / "clips"


def _read_csv(path):
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_cache_follows_the_contract(clips_dir, tmp_path):
    out = tmp_path / "frames"
    cache = build_frame_cache(clips_dir, out, _motion(), CaptionSpec("prompt"))
    assert sorted(p.name for p in out.iterdir()) == ["captions.csv", "clips.safetensors", "index.csv"]
    keys = [f"clip_{i:04d}" for i in range(5)]
    with safe_open(str(out / "clips.safetensors"), framework="np") as handle:
        assert sorted(handle.keys()) == keys
        assert handle.metadata() == {"motion": "drift", "fps": "8", "width": "32", "height": "32"}
        tensors = {key: handle.get_tensor(key) for key in keys}
    lengths = [24, 24, 24, 24, 16]
    for key, length in zip(keys, lengths, strict=True):
        assert tensors[key].dtype == np.uint8 and tensors[key].shape == (length, 32, 32, 3)
    index = _read_csv(out / "index.csv")
    assert list(index[0]) == ["clip", "source", "n_frames"]
    assert [(r["clip"], r["source"], int(r["n_frames"])) for r in index] == list(
        zip(keys, ["v0.mp4", "v1.mp4", "v2.mp4", "v3.mp4", "v4 short.mp4"], lengths, strict=True)
    )
    captions = _read_csv(out / "captions.csv")
    assert list(captions[0]) == ["clip", "caption"]
    assert [r["caption"] for r in captions] == [PROMPT] * 5
    # The cache holds exactly the decoded clips.
    first_clip = sorted(p for p in clips_dir.iterdir() if p.name.startswith("v0-"))[0]
    assert np.array_equal(tensors["clip_0000"], read_video(first_clip))
    assert set(cache.clips) == set(keys)


def test_cache_round_trips_and_is_deterministic(clips_dir, tmp_path):
    build_frame_cache(clips_dir, tmp_path / "a", _motion(), CaptionSpec("prompt"))
    build_frame_cache(clips_dir, tmp_path / "b", _motion(), CaptionSpec("prompt"))
    for name in ("clips.safetensors", "captions.csv", "index.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    cache = load_frame_cache(tmp_path / "a")
    assert (cache.fps, cache.width, cache.height) == (8.0, 32, 32)
    assert cache.sources["clip_0004"] == "v4 short.mp4"
    assert cache.clips["clip_0004"].shape == (16, 32, 32, 3)


def test_sidecar_captions_with_prompt_for_the_rest(clips_dir, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="lamp_core"):
        cache = build_frame_cache(clips_dir, tmp_path / "f", _motion(), CaptionSpec("sidecar"))
    assert list(cache.captions.values()) == ["first one", PROMPT, "third one", PROMPT, PROMPT]
    assert any("3 clip(s) have no sidecar caption" in r.getMessage() for r in caplog.records)


def test_sidecar_without_any_caption_is_an_error(clips_dir, tmp_path):
    clips = tmp_path / "clips"
    shutil.copytree(clips_dir, clips)
    manifest = clips / "manifest.csv"
    rows = _read_csv(manifest)
    for row in rows:
        row["caption"] = ""
    with manifest.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(LampError, match=r"manifest\.csv: caption_source is sidecar"):
        build_frame_cache(clips, tmp_path / "f", _motion(), CaptionSpec("sidecar"))


def test_clips_shorter_than_a_window_are_skipped(clips_dir, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="lamp_core"):
        cache = build_frame_cache(
            clips_dir, tmp_path / "f", _motion(n_frames=10, sample_rate=2), CaptionSpec("prompt")
        )
    assert len(cache.clips) == 4  # the window spans 19 frames; the 16-frame clip cannot hold one
    assert all(len(clip) == 24 for clip in cache.clips.values())
    assert any("16 frames, one training window needs 19" in r.getMessage() for r in caplog.records)


def test_too_few_clips_fails_and_writes_nothing(clips_dir, tmp_path):
    with pytest.raises(LampError, match=r"only 4 usable clip\(s\); at least min_clips=5"):
        build_frame_cache(clips_dir, tmp_path / "f", _motion(n_frames=20, min_clips=5), CaptionSpec("prompt"))
    assert not (tmp_path / "f").exists()


def test_stale_clips_of_another_size_are_an_error(clips_dir, tmp_path):
    with pytest.raises(LampError, match="clip is 32x32 but motion 'drift' is 40x32: re-run the ingest stage"):
        build_frame_cache(clips_dir, tmp_path / "f", _motion(width=40), CaptionSpec("prompt"))


def test_missing_manifest_and_cache(tmp_path):
    with pytest.raises(LampError, match="run the ingest stage first"):
        build_frame_cache(tmp_path, tmp_path / "f", _motion(), CaptionSpec("prompt"))
    with pytest.raises(LampError, match="no frame cache"):
        load_frame_cache(tmp_path / "f")


def test_caption_spec_from_params():
    motion = _motion()
    assert CaptionSpec.from_params({"frames": {"caption_source": "sidecar"}}, motion) == CaptionSpec(
        "sidecar"
    )
    spec = CaptionSpec.from_params({"frames": {"caption_source": "model", "captioner": "models/cap"}}, motion)
    assert spec == CaptionSpec("model", "models/cap")
    with pytest.raises(LampError, match="no `captioner`"):
        CaptionSpec.from_params({"frames": {"caption_source": "model"}}, motion)
    with pytest.raises(LampError, match="caption_source='clip' is not one of prompt, sidecar, model"):
        CaptionSpec.from_params({"frames": {"caption_source": "clip"}}, motion)
