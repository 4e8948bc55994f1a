"""Reading the generate stage's sample folders, and refusing broken or mismatched ones by name."""

import csv

import numpy as np
import pytest
from safetensors.numpy import save_file
from sample_folders import eval_scenes, still_video, true_continuation, write_motion_inputs, write_sample_set

from lamp_core.errors import LampError
from lamp_core.report import load_motion_samples, load_sample_set


@pytest.fixture
def samples(tmp_path):
    write_motion_inputs(tmp_path, "slide_right", n_videos=2)
    return tmp_path / "data" / "samples" / "slide_right"


def _rewrite_index(path, change):
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    header = list(rows[0])
    rows, header = change(rows, header)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def test_a_sample_folder_is_read_with_its_frames_first_frames_and_scenes(samples):
    tuned = load_sample_set(samples / "tuned", "tuned")
    assert [v.video_id for v in tuned.videos] == ["v000", "v001"]
    scene = eval_scenes("slide_right", 2)[1]
    video = tuned.by_id()["v001"]
    np.testing.assert_array_equal(video.frames, true_continuation(scene))
    np.testing.assert_array_equal(video.first_frame, true_continuation(scene)[0])
    assert video.scene == scene
    assert (video.seed, video.first_frame_source, video.gif.name) == (1001, "render", "v001.gif")
    both = load_motion_samples(samples)
    assert set(both) == {"tuned", "untuned"}


def test_missing_folders_and_files_are_named(samples, tmp_path):
    with pytest.raises(LampError, match="run the generate stage") as error:
        load_motion_samples(tmp_path / "data" / "samples" / "orbit")
    assert "orbit/tuned" in str(error.value)
    (samples / "untuned" / "videos.safetensors").unlink()
    with pytest.raises(LampError, match=r"no videos\.safetensors") as error:
        load_motion_samples(samples)
    assert error.value.path == samples / "untuned" / "videos.safetensors"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda rows, header: (rows, [h for h in header if h != "seed"]), "missing column"),
        (lambda rows, header: ([], header), "lists no videos"),
        (lambda rows, header: (rows + rows[:1], header), "listed twice"),
        (lambda rows, header: ([{**rows[0], "seed": "x"}], header), "must be numbers"),
        (lambda rows, header: ([{**rows[0], "n_frames": "9"}], header), "declares 9 frames"),
        (lambda rows, header: ([{**rows[0], "video_id": "v999"}], header), "no tensor for video_id 'v999'"),
        (
            lambda rows, header: ([{**rows[0], "scene_json": '{"motion": "fly"}'}], header),
            "not a renderer scene",
        ),
        (lambda rows, header: ([{**rows[0], "first_frame_png": "gone.png"}], header), "does not exist"),
    ],
)
def test_a_broken_index_is_refused_naming_the_file(samples, change, message):
    _rewrite_index(samples / "tuned" / "index.csv", lambda rows, header: change(rows, header))
    with pytest.raises(LampError, match=message) as error:
        load_sample_set(samples / "tuned", "tuned")
    assert "tuned" in str(error.value.path)


def test_frames_that_are_not_uint8_videos_are_refused(samples):
    save_file({"v000": np.zeros((8, 32, 32, 3), np.float32)}, str(samples / "tuned" / "videos.safetensors"))
    with pytest.raises(LampError, match="expected uint8 frames"):
        load_sample_set(samples / "tuned", "tuned")


def test_variants_must_share_videos_prompts_and_seeds(samples):
    _rewrite_index(samples / "untuned" / "index.csv", lambda rows, header: (rows[:1], header))
    with pytest.raises(LampError, match="list different videos"):
        load_motion_samples(samples)
    scenes = eval_scenes("slide_right", 2)
    write_sample_set(samples / "untuned", scenes, [still_video(s) for s in scenes], prompt="something else")
    with pytest.raises(LampError, match=r"prompt .* differs from the tuned model's") as error:
        load_motion_samples(samples)
    assert error.value.path == samples / "untuned" / "index.csv"


def test_videos_of_different_sizes_are_refused(samples):
    scenes = eval_scenes("slide_right", 2)
    small = [np.ascontiguousarray(still_video(s)[:, :24, :24]) for s in scenes]
    write_sample_set(samples / "untuned", scenes, small)
    with pytest.raises(LampError, match="different sizes"):
        load_motion_samples(samples)
