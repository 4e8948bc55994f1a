"""Tests of the procedural renderer of the built-in example motions."""

import json

import numpy as np
import pytest

from lamp_core.synthetic import (
    MOTIONS,
    OBJECT_COLORS,
    Scene,
    SceneError,
    render_background,
    render_clip,
    render_masks,
    sample_image,
    sample_scene,
)

W, H = 64, 48


def _object_centroids(scene: Scene, frames: np.ndarray) -> np.ndarray:
    """Centroid (x, y) of the object in each frame, measured from the pixels.

    Each pixel's object weight is its position between the background and the object colour, so
    anti-aliased edges count fractionally and the centroid is sub-pixel accurate.
    """
    background = render_background(scene, frames.shape[2], frames.shape[1]).astype(np.float64)
    towards = np.asarray(OBJECT_COLORS[scene.color], dtype=np.float64) - background
    weight = ((frames - background) * towards).sum(-1) / (towards**2).sum(-1)  # (T, H, W)
    area = weight.sum(axis=(1, 2))
    assert area.min() > 10, "object not visible in every frame"
    ys, xs = np.mgrid[0 : frames.shape[1], 0 : frames.shape[2]] + 0.5
    return np.stack([(weight * xs).sum(axis=(1, 2)) / area, (weight * ys).sum(axis=(1, 2)) / area], axis=-1)


def _fully_visible_scene(motion: str, seed: int) -> Scene:
    """The first scene from `seed` whose object stays wholly inside the frame for 8 frames."""
    rng = np.random.default_rng(seed)
    while True:
        scene = sample_scene(motion, rng, W, H)
        masks = render_masks(scene, 8, W, H)
        if masks[:, 0, :].max() == 0 and masks[:, -1, :].max() == 0 and masks[:, :, (0, -1)].max() == 0:
            return scene


@pytest.mark.parametrize("motion", MOTIONS)
def test_same_seed_same_scene_and_frames(motion):
    a = sample_scene(motion, np.random.default_rng(7), W, H)
    b = sample_scene(motion, np.random.default_rng(7), W, H)
    assert a == b
    np.testing.assert_array_equal(render_clip(a, 6, W, H), render_clip(b, 6, W, H))
    assert a != sample_scene(motion, np.random.default_rng(8), W, H)


def test_clip_shape_dtype_and_start_offset():
    scene = sample_scene("slide_right", np.random.default_rng(0), W, H)
    clip = render_clip(scene, 10, W, H)
    assert clip.shape == (10, H, W, 3) and clip.dtype == np.uint8
    np.testing.assert_array_equal(render_clip(scene, 4, W, H, start=3), clip[3:7])


def test_slide_right_moves_right_by_its_speed():
    scene = _fully_visible_scene("slide_right", seed=3)
    centroids = _object_centroids(scene, render_clip(scene, 8, W, H))
    steps = np.diff(centroids, axis=0)
    np.testing.assert_allclose(steps[:, 0], scene.speed, atol=0.1)  # anti-aliasing of corners is approximate
    np.testing.assert_allclose(steps[:, 0].mean(), scene.speed, atol=0.02)
    np.testing.assert_allclose(steps[:, 1], 0.0, atol=0.05)
    assert scene.velocity_at(2.0) == pytest.approx((scene.speed, 0.0))


def test_slide_down_moves_down_by_its_speed():
    scene = _fully_visible_scene("slide_down", seed=3)
    centroids = _object_centroids(scene, render_clip(scene, 8, W, H))
    steps = np.diff(centroids, axis=0)
    np.testing.assert_allclose(steps[:, 1], scene.speed, atol=0.1)
    np.testing.assert_allclose(steps[:, 0], 0.0, atol=0.05)
    assert scene.velocity_at(2.0) == pytest.approx((0.0, scene.speed))


def test_orbit_turns_around_its_pivot():
    scene = _fully_visible_scene("orbit", seed=4)
    centroids = _object_centroids(scene, render_clip(scene, 8, W, H))
    offsets = centroids - np.asarray(scene.pivot)
    distances = np.hypot(offsets[:, 0], offsets[:, 1])
    orbit_radius = np.hypot(*np.subtract(scene.start, scene.pivot))
    # The measured centroid of a shape (triangles are not symmetric) is within a pixel of its centre.
    np.testing.assert_allclose(distances, orbit_radius, atol=1.0)
    angles = np.unwrap(np.arctan2(offsets[:, 1], offsets[:, 0]))
    turned = np.diff(angles)
    np.testing.assert_allclose(turned, scene.speed / orbit_radius, atol=0.08)
    # velocity_at is the displacement between consecutive frames: it matches the centres it renders.
    dx, dy = scene.velocity_at(0.0)
    np.testing.assert_allclose(np.subtract(scene.position_at(1.0), scene.position_at(0.0)), (dx, dy))


@pytest.mark.parametrize("motion", MOTIONS)
def test_object_mostly_in_view_for_24_frames(motion):
    rng = np.random.default_rng(11)
    for _ in range(10):
        scene = sample_scene(motion, rng, W, H)
        visible = render_masks(scene, 24, W, H).sum(axis=(1, 2))
        smallest_area = 0.69 * np.pi * scene.radius**2  # the triangle's; the other shapes cover about pi r^2
        assert visible.min() > 0.3 * smallest_area


def test_scenes_vary_in_shape_colour_background_and_size():
    rng = np.random.default_rng(0)
    scenes = [sample_scene(MOTIONS[i % len(MOTIONS)], rng, W, H) for i in range(60)]
    assert len({s.shape for s in scenes}) >= 4
    assert len({s.color for s in scenes}) >= 6
    assert len({s.background for s in scenes}) >= 4
    assert np.ptp([s.radius for s in scenes]) > 0.03 * min(W, H)


def test_caption_names_colour_shape_and_background():
    scene = Scene("slide_right", "triangle", "orange", "dark blue", W, H, 6.0, (10.0, 20.0), 1.5)
    assert scene.caption == "an orange triangle on a dark blue background"


def test_object_and_background_colours_are_rendered():
    scene = Scene("slide_right", "square", "red", "black", W, H, 8.0, (32.0, 24.0), 1.0)
    frame = render_clip(scene, 1, W, H)[0]
    np.testing.assert_array_equal(frame[24, 32], OBJECT_COLORS["red"])
    np.testing.assert_array_equal(frame[2, 2], render_background(scene, W, H)[2, 2].round())


def test_edges_are_anti_aliased():
    scene = Scene("orbit", "circle", "white", "black", W, H, 9.3, (30.3, 24.0), 2.0, pivot=(22.0, 24.0))
    values = np.unique(render_clip(scene, 1, W, H)[0, ..., 0])
    assert len(values) > 5  # intermediate values along the circle's edge, not just two colours


def test_scene_json_round_trip():
    for motion in MOTIONS:
        scene = sample_scene(motion, np.random.default_rng(5), W, H)
        assert Scene.from_dict(json.loads(json.dumps(scene.to_dict()))) == scene


def test_rendering_at_another_size_scales_the_scene():
    scene = sample_scene("orbit", np.random.default_rng(2), W, H)
    small = render_masks(scene, 3, W, H)
    large = render_masks(scene, 3, 2 * W, 2 * H)
    np.testing.assert_allclose(large.reshape(3, H, 2, W, 2).mean(axis=(2, 4)), small, atol=0.2)


def test_unknown_motion_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"slide_right.*orbit"):
        sample_scene("spin", np.random.default_rng(0), W, H)


def test_bad_scene_dicts_raise_scene_error():
    good = sample_scene("orbit", np.random.default_rng(0), W, H).to_dict()
    with pytest.raises(SceneError, match="unknown object colour"):
        Scene.from_dict({**good, "color": "mauve"})
    with pytest.raises(SceneError, match="lacks fields: radius"):
        Scene.from_dict({k: v for k, v in good.items() if k != "radius"})
    with pytest.raises(SceneError, match="needs pivot"):
        Scene.from_dict({**good, "pivot": None})
    with pytest.raises(SceneError, match="malformed"):
        Scene.from_dict({**good, "start": "left"})


def test_sample_image_is_a_captioned_still():
    image, caption = sample_image(np.random.default_rng(9), 32, 32)
    assert image.shape == (32, 32, 3) and image.dtype == np.uint8
    assert caption.startswith(("a ", "an ")) and caption.endswith(" background")
    again, _ = sample_image(np.random.default_rng(9), 32, 32)
    np.testing.assert_array_equal(image, again)
