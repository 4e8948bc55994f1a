"""First frames: user images (resized, centre-cropped), the renderer, text-to-image models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sampling_helpers import HEIGHT, WIDTH

from lamp_core.errors import LampError
from lamp_core.model import InflationConfig, SDBase
from lamp_core.sampling import (
    FirstFrameSpec,
    TextToImage,
    build_video_unet,
    fit_image,
    load_image,
    render_first_frame,
    resolve_first_frames,
)
from lamp_core.synthetic import render_clip


def _striped(width: int, height: int) -> np.ndarray:
    """Red left third, green middle third, blue right third."""
    image = np.zeros((height, width, 3), np.uint8)
    third = width // 3
    image[:, :third, 0] = 255
    image[:, third : 2 * third, 1] = 255
    image[:, 2 * third :, 2] = 255
    return image


def test_fit_image_covers_then_centre_crops() -> None:
    wide = _striped(300, 100)  # 3:1 into 32x24 (4:3): scaled to 72x24, centre 32 columns are green
    fitted = fit_image(wide, WIDTH, HEIGHT)
    assert fitted.shape == (HEIGHT, WIDTH, 3) and fitted.dtype == np.uint8
    assert (fitted[:, 4:-4, 1] > 200).all() and (fitted[:, 4:-4, [0, 2]] < 50).all()
    small = fit_image(_striped(9, 6), 48, 32)  # upscaled to cover
    assert small.shape == (32, 48, 3)


def test_load_image_applies_exif_rotation(tmp_path: Path) -> None:
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = 255  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(pixels).save(tmp_path / "phone.jpg", exif=exif, quality=95)
    image = load_image(tmp_path / "phone.jpg", 16, 32)  # displayed as 20 wide, 40 tall: white on top
    assert image.shape == (32, 16, 3)
    assert image[:12].mean() > 200 and image[-12:].mean() < 50


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.png", "no such image file"),
        (lambda d: (d / "notes.png").write_text("not an image") and d / "notes.png", "not an image file"),
        (lambda d: d, "is a folder"),
    ],
)
def test_unreadable_images_are_clear_errors(tmp_path: Path, make, message: str) -> None:
    path = make(tmp_path)
    with pytest.raises(LampError, match=message) as error:
        load_image(path, WIDTH, HEIGHT)
    assert str(path) in str(error.value)


def test_render_first_frame_is_frame_0_of_a_new_scene() -> None:
    frame = render_first_frame("slide_right", 1000, WIDTH, HEIGHT)
    assert frame.source == "render" and frame.scene is not None
    np.testing.assert_array_equal(frame.image, render_clip(frame.scene, 1, WIDTH, HEIGHT)[0])
    again = render_first_frame("slide_right", 1000, WIDTH, HEIGHT)
    assert again.scene == frame.scene and '"motion": "slide_right"' in frame.scene_json
    assert render_first_frame("slide_right", 1001, WIDTH, HEIGHT).scene != frame.scene
    with pytest.raises(LampError, match="unknown motion"):
        render_first_frame("jump", 1, WIDTH, HEIGHT)


def test_first_frame_specs_from_params() -> None:
    assert FirstFrameSpec.from_params({"render": {"seed": 4}}, "x") == FirstFrameSpec("render", seed=4)
    assert FirstFrameSpec.from_params({"image": "a.png"}, "x") == FirstFrameSpec("image", path="a.png")
    assert FirstFrameSpec.from_params({"prompt": "a cat"}, "x") == FirstFrameSpec("prompt", prompt="a cat")
    for bad, message in [
        ({"render": {"seed": "4"}}, "integer seed"),
        ({"image": ""}, "file path"),
        ({"video": "a.mp4"}, "unknown first_frame source 'video'"),
        ({"render": {"seed": 1}, "image": "a.png"}, "must be one of"),
        ("a.png", "must be one of"),
    ]:
        with pytest.raises(LampError, match=message):
            FirstFrameSpec.from_params(bad, "motions.m.eval_prompts[0]")


def test_text_to_image_with_the_base_is_seeded_and_sized(base: SDBase) -> None:
    model = TextToImage.from_base(base, steps=2, guidance_scale=3.0)
    first, second = model.generate(["a red circle on a beige background"] * 2, [1, 2], WIDTH, HEIGHT)
    assert first.shape == (HEIGHT, WIDTH, 3) and first.dtype == np.uint8
    again = model.generate(["a red circle on a beige background"], [1], WIDTH, HEIGHT)[0]
    np.testing.assert_array_equal(again, first)
    assert not np.array_equal(first, second)


def test_text_to_image_refuses_an_inflated_base(base: SDBase) -> None:
    build_video_unet(base, InflationConfig.paper())
    with pytest.raises(LampError, match="already inflated"):
        TextToImage.from_base(base)


def test_any_diffusers_pipeline_folder_works_and_bad_sources_are_clear(
    tiny_sd_dir: Path, tmp_path: Path
) -> None:
    model = TextToImage.load(tiny_sd_dir, steps=2, local_files_only=True)
    image = model.generate(["a blue square"], [0], 24, 16)[0]  # rendered at native 32x32, then fitted
    assert image.shape == (16, 24, 3) and model.name == str(tiny_sd_dir)
    with pytest.raises(LampError, match="cannot load it as a text-to-image pipeline"):
        TextToImage.load(tmp_path / "nothing-here", local_files_only=True)
    (tmp_path / "model.safetensors").write_bytes(b"x")
    with pytest.raises(LampError, match="single checkpoint file"):
        TextToImage.load(tmp_path / "model.safetensors")


def test_resolve_first_frames_asks_for_a_text_to_image_model_only_when_needed(tmp_path: Path) -> None:
    Image.fromarray(_striped(60, 40)).save(tmp_path / "mine.png")
    calls = []

    class FakeTextToImage:
        name = "fake-t2i"

        def generate(self, prompts, seeds, width, height):
            return [np.full((height, width, 3), seed, np.uint8) for seed in seeds]

    def provider():
        calls.append(1)
        return FakeTextToImage()

    specs = [FirstFrameSpec("render", seed=3), FirstFrameSpec("image", path=str(tmp_path / "mine.png"))]
    frames = resolve_first_frames(
        specs, [0, 1], motion="orbit", width=WIDTH, height=HEIGHT, text_to_image=provider
    )
    assert not calls
    assert [f.source for f in frames] == ["render", f"image:{tmp_path / 'mine.png'}"]
    specs.insert(1, FirstFrameSpec("prompt", prompt="a cat"))
    frames = resolve_first_frames(
        specs, [0, 9, 1], motion="orbit", width=WIDTH, height=HEIGHT, text_to_image=provider
    )
    assert calls == [1]
    assert frames[1].source == "t2i:fake-t2i" and (frames[1].image == 9).all()
