"""Tests of the procedural renderer of the built-in example motions."""

import json
import time

import cv2
import numpy as np
import pytest

from lamp_core.errors import LampError
from lamp_core.metrics import optical_flow
from lamp_core.synthetic import (
    BACKGROUND_COLORS,
    IN_VIEW_FRAMES,
    MOTIONS,
    OBJECT_COLORS,
    RATE_RANGES,
    Scene,
    SceneObject,
    render_background,
    render_clip,
    render_masks,
    sample_image,
    sample_scene,
)
from lamp_core.synthetic.scene import WAVELENGTH_RANGE, contrasting_backgrounds

W, H = 64, 64


def _scene(motion, objects, rate, **kwargs):
    """A hand-built scene on a plain black background (no texture waves)."""
    return Scene(motion, W, H, "black", tuple(objects), rate, "gray", **kwargs)


def _object_centroids(scene: Scene, frames: np.ndarray) -> np.ndarray:
    """Centroid (x, y) of the scene's single object in each frame, measured from the pixels.

    Each pixel's object weight is its position between the background and the object colour, so
    anti-aliased edges count fractionally and the centroid is sub-pixel accurate.
    """
    background = render_background(scene, frames.shape[2], frames.shape[1], len(frames)).astype(np.float64)
    towards = np.asarray(OBJECT_COLORS[scene.objects[0].color], dtype=np.float64) - background
    weight = ((frames - background) * towards).sum(-1) / (towards**2).sum(-1)  # (T, H, W)
    area = weight.sum(axis=(1, 2))
    assert area.min() > 10, "object not visible in every frame"
    ys, xs = np.mgrid[0 : frames.shape[1], 0 : frames.shape[2]] + 0.5
    return np.stack([(weight * xs).sum(axis=(1, 2)) / area, (weight * ys).sum(axis=(1, 2)) / area], axis=-1)


def _one_visible_object_scene(motion: str, seed: int, n_frames: int = 8) -> Scene:
    """The first one-object scene from `seed` whose object stays wholly inside the frame for n_frames."""
    rng = np.random.default_rng(seed)
    while True:
        scene = sample_scene(motion, rng, W, H)
        masks = render_masks(scene, n_frames, W, H)[:, 0]
        inside = masks[:, 0, :].max() == 0 and masks[:, -1, :].max() == 0 and masks[:, :, (0, -1)].max() == 0
        if len(scene.objects) == 1 and inside:
            return scene


def _flow(clip: np.ndarray) -> np.ndarray:
    """Farneback flow (the project's settings) of each consecutive frame pair, (T-1, H, W, 2) in px/frame."""
    return optical_flow(clip)


def _offsets_from_centre(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:height, 0:width] + 0.5
    return xs - width / 2.0, ys - height / 2.0


@pytest.mark.parametrize("motion", MOTIONS)
def test_same_seed_same_scene_and_frames(motion):
    a = sample_scene(motion, np.random.default_rng(7), W, H)
    b = sample_scene(motion, np.random.default_rng(7), W, H)
    assert a == b
    np.testing.assert_array_equal(render_clip(a, 6, W, H), render_clip(b, 6, W, H))
    assert a != sample_scene(motion, np.random.default_rng(8), W, H)


def test_clip_shape_dtype_and_start_offset():
    for motion in MOTIONS:
        scene = sample_scene(motion, np.random.default_rng(0), W, H)
        clip = render_clip(scene, 10, W, H)
        assert clip.shape == (10, H, W, 3) and clip.dtype == np.uint8
        np.testing.assert_array_equal(render_clip(scene, 4, W, H, start=3), clip[3:7])


@pytest.mark.parametrize(("motion", "axis"), [("slide_right", 0), ("slide_down", 1)])
def test_slides_move_the_objects_by_their_rate_over_a_still_background(motion, axis):
    scene = _one_visible_object_scene(motion, seed=3)
    assert RATE_RANGES[motion][0] * W <= scene.rate <= RATE_RANGES[motion][1] * W  # 2.5-4 px per frame
    clip = render_clip(scene, 8, W, H)
    steps = np.diff(_object_centroids(scene, clip), axis=0)
    np.testing.assert_allclose(steps[:, axis], scene.rate, atol=0.15)  # anti-aliased corners: approximate
    np.testing.assert_allclose(steps[:, 1 - axis], 0.0, atol=0.1)
    np.testing.assert_allclose(np.diff(scene.screen_positions(np.arange(8.0))[:, 0, axis]), scene.rate)
    # The background never moves: every pixel no object covers in two frames is the same in both.
    background = render_background(scene, W, H, 8)
    assert np.all(background == background[0])
    free = render_masks(scene, 8, W, H).max(axis=1) == 0
    both = free[1:] & free[:-1]
    assert both.mean() > 0.5 and np.array_equal(clip[1:][both], clip[:-1][both])


def test_slides_flow_is_the_objects_velocity_and_zero_elsewhere():
    scene = _one_visible_object_scene("slide_right", seed=5)
    clip = render_clip(scene, 6, W, H)
    flow = _flow(clip)
    inside = render_masks(scene, 6, W, H)[:-1, 0] > 0.99
    touched = (render_masks(scene, 6, W, H).max(axis=0)[0] > 0).astype(np.uint8)
    far = cv2.dilate(touched, np.ones((17, 17), np.uint8)) == 0  # beyond Farneback's window of the object
    assert np.median(flow[..., 0][inside]) == pytest.approx(scene.rate, abs=0.6)
    assert np.abs(flow[:, far]).mean() < 0.1


def test_zoom_in_flow_diverges_from_the_centre_at_its_rate():
    rng = np.random.default_rng(1)
    for _ in range(3):
        scene = sample_scene("zoom_in", rng, W, H)
        assert RATE_RANGES["zoom_in"][0] <= scene.rate <= RATE_RANGES["zoom_in"][1]
        flow = _flow(render_clip(scene, 6, W, H))
        dx, dy = _offsets_from_centre(H, W)
        # Least-squares fit of flow = k * (offset from centre): k is the per-frame growth, the rate.
        # Farneback underestimates these small smooth flows (and sees none inside flat objects), so
        # the fit finds a fraction of it, but always outwards and with no turn.
        k = ((flow[..., 0] * dx + flow[..., 1] * dy).sum(axis=(1, 2))) / (dx**2 + dy**2).sum()
        assert np.all((k > 0.15 * scene.rate) & (k < 1.2 * scene.rate))
        turn = ((-flow[..., 0] * dy + flow[..., 1] * dx).sum(axis=(1, 2))) / (dx**2 + dy**2).sum()
        assert np.all(np.abs(turn) < 0.3 * k)
        radial = (flow[..., 0] * dx + flow[..., 1] * dy) / np.maximum(np.hypot(dx, dy), 1e-6)
        moving = np.hypot(flow[..., 0], flow[..., 1]) > 0.25
        assert (radial[moving] > 0).mean() > 0.9  # outwards nearly everywhere it moves


def test_zoom_in_scales_objects_about_the_centre():
    obj = SceneObject("square", "red", 6.0, (40.0, 28.0))
    scene = _scene("zoom_in", [obj], 0.04)
    masks = render_masks(scene, 6, W, H)[:, 0]
    np.testing.assert_allclose(masks.sum(axis=(1, 2)) / masks[0].sum(), 1.04 ** (2 * np.arange(6)), rtol=0.02)
    expected = 32.0 + (np.array([40.0, 28.0]) - 32.0) * 1.04 ** np.arange(6)[:, None]
    np.testing.assert_allclose(scene.screen_positions(np.arange(6.0))[:, 0], expected)
    np.testing.assert_allclose(_object_centroids(scene, render_clip(scene, 6, W, H)), expected, atol=0.1)


def test_roll_flow_curls_clockwise_at_its_rate():
    rng = np.random.default_rng(2)
    for _ in range(3):
        scene = sample_scene("roll", rng, W, H)
        assert RATE_RANGES["roll"][0] <= scene.rate <= RATE_RANGES["roll"][1]
        flow = _flow(render_clip(scene, 6, W, H))
        dx, dy = _offsets_from_centre(H, W)
        # Turning clockwise on screen (y down) by w radians moves a point at (dx, dy) by w * (-dy, dx).
        # Farneback finds a fraction of the turn (see the zoom test), always clockwise and with no zoom.
        w = ((-flow[..., 0] * dy + flow[..., 1] * dx).sum(axis=(1, 2))) / (dx**2 + dy**2).sum()
        assert np.all((w > 0.15 * np.radians(scene.rate)) & (w < 1.2 * np.radians(scene.rate)))
        radial = (flow[..., 0] * dx + flow[..., 1] * dy).sum(axis=(1, 2)) / (dx**2 + dy**2).sum()
        assert np.all(np.abs(radial) < 0.3 * w)
        tangential = (-flow[..., 0] * dy + flow[..., 1] * dx) / np.maximum(np.hypot(dx, dy), 1e-6)
        moving = np.hypot(flow[..., 0], flow[..., 1]) > 0.25
        assert (tangential[moving] > 0).mean() > 0.9


def test_roll_turns_objects_about_the_centre():
    scene = _scene("roll", [SceneObject("circle", "white", 5.0, (48.0, 32.0))], 6.0)
    centroids = _object_centroids(scene, render_clip(scene, 5, W, H))
    angles = np.degrees(np.arctan2(centroids[:, 1] - 32.0, centroids[:, 0] - 32.0))
    np.testing.assert_allclose(angles, 6.0 * np.arange(5), atol=0.5)  # from +x towards +y: clockwise
    np.testing.assert_allclose(np.hypot(centroids[:, 0] - 32.0, centroids[:, 1] - 32.0), 16.0, atol=0.1)


def test_orbit_turns_its_object_around_its_pivot():
    scene = _one_visible_object_scene("orbit", seed=4)
    centroids = _object_centroids(scene, render_clip(scene, 8, W, H))
    offsets = centroids - np.asarray(scene.pivot)
    orbit_radius = np.hypot(*np.subtract(scene.objects[0].start, scene.pivot))
    # The measured centroid of a shape (triangles are not symmetric) is within a pixel of its centre.
    np.testing.assert_allclose(np.hypot(offsets[:, 0], offsets[:, 1]), orbit_radius, atol=1.0)
    turned = np.degrees(np.diff(np.unwrap(np.arctan2(offsets[:, 1], offsets[:, 0]))))
    np.testing.assert_allclose(turned, scene.rate, atol=4.0)


def test_objects_stay_mostly_in_view_for_the_first_frames():
    rng = np.random.default_rng(11)
    for motion in MOTIONS:
        for _ in range(8):
            scene = sample_scene(motion, rng, W, H)
            frames = IN_VIEW_FRAMES if motion != "roll" else 24
            visible = render_masks(scene, frames, W, H).sum(axis=(2, 3))  # (T, N)
            # Each object's whole area: the same object drawn at the centre of a still, large canvas.
            for i, obj in enumerate(scene.objects):
                alone = Scene(
                    "roll",
                    4 * W,
                    4 * H,
                    "black",
                    (SceneObject(obj.shape, obj.color, obj.radius, (2.0 * W, 2.0 * H)),),
                    0.0,
                    "gray",
                )
                area = render_masks(alone, 1, 4 * W, 4 * H).sum()
                smallest = 0.97 if motion in ("roll", "orbit") else 0.45
                assert visible[: scene.caption_frames, i].min() > smallest * area - 1.0, (motion, i)


def test_scenes_vary_and_their_objects_contrast_and_do_not_overlap():
    rng = np.random.default_rng(0)
    scenes = [sample_scene(MOTIONS[i % len(MOTIONS)], rng, W, H) for i in range(80)]
    objects = [o for s in scenes for o in s.objects]
    assert {len(s.objects) for s in scenes} == {1, 2, 3}
    assert len({o.shape for o in objects}) == 4 and len({o.color for o in objects}) >= 8
    assert len({s.background for s in scenes}) == len(BACKGROUND_COLORS)
    assert len({s.texture for s in scenes}) >= 4
    radii = np.array([o.radius for o in objects]) / W
    assert radii.min() >= 0.10 and radii.max() <= 0.20 and np.ptp(radii) > 0.07
    for scene in scenes:
        colors = [o.color for o in scene.objects]
        assert len(set(colors)) == len(colors)
        assert all(scene.background in contrasting_backgrounds(c) for c in colors)
        masks = render_masks(scene, 1, W, H)[0]
        assert (masks.sum(axis=0) > 1.0).sum() == 0  # no pixel is covered by two objects


def test_background_is_smooth_and_textured():
    rng = np.random.default_rng(3)
    for _ in range(10):
        scene = sample_scene("zoom_in", rng, W, H)
        background = render_background(scene, W, H)[0]
        assert background.std(axis=(0, 1)).max() > 4.0  # textured, not flat
        # Low-frequency: neighbouring pixels differ by little.
        assert (
            np.abs(np.diff(background, axis=0)).max() < 25 and np.abs(np.diff(background, axis=1)).max() < 25
        )
        side = min(W, H)
        for fx, fy, _, _ in scene.waves:
            low, high = WAVELENGTH_RANGE
            assert low * side - 1e-6 <= 1.0 / np.hypot(fx, fy) <= high * side + 1e-6


def test_captions_name_the_objects_and_the_background():
    objects = [
        SceneObject("triangle", "orange", 6.0, (10.0, 20.0)),
        SceneObject("square", "blue", 6.0, (40.0, 20.0)),
        SceneObject("circle", "white", 6.0, (40.0, 50.0)),
    ]
    assert _scene("roll", objects[:1], 5.0).caption == "an orange triangle on a black background"
    assert (
        _scene("roll", objects[:2], 5.0).caption
        == "an orange triangle and a blue square on a black background"
    )
    three = Scene("zoom_in", W, H, "dark blue", tuple(objects), 0.04, "gray")
    assert (
        three.caption == "an orange triangle and a blue square and a white circle on a dark blue background"
    )


def test_object_and_background_colours_are_rendered():
    scene = _scene("slide_right", [SceneObject("square", "red", 8.0, (32.0, 24.0))], 3.0)
    frame = render_clip(scene, 1, W, H)[0]
    np.testing.assert_array_equal(frame[24, 32], OBJECT_COLORS["red"])
    np.testing.assert_array_equal(frame[2, 2], render_background(scene, W, H)[0, 2, 2].round())


def test_edges_are_anti_aliased():
    scene = _scene("roll", [SceneObject("circle", "white", 9.3, (30.3, 24.0))], 5.0)
    values = np.unique(render_clip(scene, 1, W, H)[0, ..., 0])
    assert len(values) > 5  # intermediate values along the circle's edge, not just two colours


def test_scene_json_round_trip_is_exact():
    for motion in MOTIONS:
        rng = np.random.default_rng(5)
        for _ in range(4):
            scene = sample_scene(motion, rng, W, H)
            again = Scene.from_dict(json.loads(json.dumps(scene.to_dict())))
            assert again == scene
            np.testing.assert_array_equal(render_clip(again, 3, W, H), render_clip(scene, 3, W, H))


def test_rendering_at_another_size_scales_the_scene():
    for motion in MOTIONS:
        scene = sample_scene(motion, np.random.default_rng(2), W, H)
        small = render_masks(scene, 3, W, H)
        large = render_masks(scene, 3, 2 * W, 2 * H)
        np.testing.assert_allclose(large.reshape(3, -1, H, 2, W, 2).mean(axis=(3, 5)), small, atol=0.2)


def test_unknown_motion_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"slide_right.*zoom_in.*roll"):
        sample_scene("spin", np.random.default_rng(0), W, H)


def test_bad_scene_dicts_raise_scene_errors_naming_the_field():
    good = sample_scene("orbit", np.random.default_rng(0), W, H).to_dict()
    obj = good["objects"][0]
    cases = [
        ({**good, "colour": "red"}, "unknown scene fields: colour"),
        ({k: v for k, v in good.items() if k != "rate"}, "lacks fields: rate"),
        ({**good, "objects": [{**obj, "color": "mauve"}]}, "unknown object colour 'mauve'"),
        (
            {**good, "objects": [{k: v for k, v in obj.items() if k != "radius"}]},
            r"objects\[0\] lacks fields: radius",
        ),
        ({**good, "objects": [{**obj, "size": 3}]}, r"unknown objects\[0\] fields: size"),
        ({**good, "objects": [{**obj, "start": "left"}]}, "malformed scene field start"),
        ({**good, "objects": []}, "1 to 3 objects"),
        ({**good, "objects": "circle"}, "malformed scene field objects"),
        ({**good, "texture": "plaid"}, "unknown texture colour"),
        ({**good, "waves": [[0.1, 0.2]]}, "malformed scene field waves"),
        ({**good, "width": "wide"}, "malformed scene field width"),
        ({**good, "rate": None}, "malformed scene field rate"),
        ({**good, "pivot": None}, "needs pivot"),
        ({**good, "motion": "spin"}, "unknown motion 'spin'"),
    ]
    for data, message in cases:
        with pytest.raises(LampError, match=message):
            Scene.from_dict(data)
    with pytest.raises(LampError, match="mapping"):
        Scene.from_dict([good])


def test_sample_image_is_a_captioned_still_of_a_scenes_first_frames():
    image, caption = sample_image(np.random.default_rng(9), 32, 32)
    assert image.shape == (32, 32, 3) and image.dtype == np.uint8
    assert caption.startswith(("a ", "an ")) and caption.endswith(" background")
    again, _ = sample_image(np.random.default_rng(9), 32, 32)
    np.testing.assert_array_equal(image, again)
    # The same draws as sample_image makes by hand: a motion, a scene, a time among its caption frames.
    rng = np.random.default_rng(9)
    scene = sample_scene(MOTIONS[rng.integers(len(MOTIONS))], rng, 32, 32)
    t = int(rng.integers(scene.caption_frames))
    np.testing.assert_array_equal(image, render_clip(scene, 1, 32, 32, start=t)[0])
    assert caption == scene.caption


def test_rendering_a_clip_is_cheap():
    rng = np.random.default_rng(0)
    scenes = [sample_scene(MOTIONS[i % len(MOTIONS)], rng, 80, 72) for i in range(10)]
    render_clip(scenes[0], 24, 80, 72)
    started = time.perf_counter()
    for scene in scenes:
        render_clip(scene, 24, 80, 72)
    assert (time.perf_counter() - started) / len(scenes) < 0.5  # about 0.07 s on one core
