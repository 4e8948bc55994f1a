"""CLIP metrics: plumbing checked with a tiny randomly initialised open_clip model (never a product path),
loading from local files checked with that model saved to disk, and the "unavailable" path."""

import json

import numpy as np
import open_clip
import pytest
import torch
from constructed_videos import moving_disc, smooth_texture, still_video
from PIL import Image
from safetensors.torch import save_file

from lamp_core.errors import LampError, MetricUnavailable
from lamp_core.metrics import CLIP_METRICS, ClipScorer, clip_report

TINY_CLIP = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return open_clip.CLIP(**TINY_CLIP).eval()


@pytest.fixture(scope="module")
def scorer(tiny_model):
    preprocess = open_clip.image_transform(32, is_train=False)
    return ClipScorer.from_model(tiny_model, preprocess, open_clip.SimpleTokenizer(context_length=16))


@pytest.fixture(scope="module")
def saved_folder(tiny_model, tmp_path_factory):
    """A `local-dir:` folder holding the tiny model's config and weights."""
    folder = tmp_path_factory.mktemp("tiny_clip")
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_CLIP}))
    save_file(tiny_model.state_dict(), str(folder / "open_clip_model.safetensors"))
    return folder


def _videos():
    return [moving_disc(32, 2), still_video(32), moving_disc(32, 1, angle_deg=90)]


def test_alignment_is_the_mean_frame_prompt_cosine(tiny_model, scorer):
    video = moving_disc(32, 2)
    with torch.no_grad():
        images = torch.stack([scorer.preprocess(Image.fromarray(frame)) for frame in video])
        image_emb = tiny_model.encode_image(images, normalize=True)
        tokens = open_clip.SimpleTokenizer(context_length=16)(["a red disc"])
        text_emb = tiny_model.encode_text(tokens, normalize=True)
    expected = 100 * float((image_emb @ text_emb.T).mean())
    assert scorer.alignment(video, "a red disc") == pytest.approx(expected, abs=1e-4)
    assert -100 <= expected <= 100


def test_consistency_is_maximal_for_identical_frames(scorer):
    assert scorer.consistency(still_video(32)) == pytest.approx(100.0, abs=1e-3)
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    assert scorer.consistency(noise) < scorer.consistency(still_video(32))


def test_diversity_of_copies_is_maximal(scorer):
    video = moving_disc(32, 2)
    assert scorer.diversity([video, video.copy()]) == pytest.approx(100.0, abs=1e-3)
    assert scorer.diversity(_videos()) < 100.0 - 1e-3
    with pytest.raises(LampError, match="at least 2 videos"):
        scorer.diversity([video])


def test_report_embeds_once_and_agrees_with_single_metrics(scorer):
    videos, prompts = _videos(), ["a disc", "a texture", "a disc falling"]
    report = scorer.report(videos, prompts)
    assert set(report) == set(CLIP_METRICS)
    expected = np.mean([scorer.alignment(v, p) for v, p in zip(videos, prompts, strict=True)])
    assert report["alignment"] == pytest.approx(expected, abs=1e-4)
    assert report["consistency"] == pytest.approx(np.mean([scorer.consistency(v) for v in videos]), abs=1e-4)
    assert report["diversity"] == pytest.approx(scorer.diversity(videos), abs=1e-4)
    json.dumps(report)


def test_report_of_one_video_has_no_diversity(scorer):
    report = scorer.report([moving_disc(32, 2)], ["a disc"])
    assert report["diversity"] is None
    assert report["unavailable"] == {"diversity": "diversity needs at least 2 videos"}
    with pytest.raises(LampError, match="prompts: 1 given for 2 videos"):
        scorer.report(_videos()[:2], ["a disc"])


def test_unavailable_scorer_reports_none_with_the_reason():
    report = clip_report(_videos(), ["p"] * 3, MetricUnavailable("no weights here"))
    assert {name: report[name] for name in CLIP_METRICS} == dict.fromkeys(CLIP_METRICS)
    assert report["unavailable"] == dict.fromkeys(CLIP_METRICS, "no weights here")
    json.dumps(report)


@pytest.mark.parametrize(
    ("model_name", "pretrained", "reason"),
    [
        ("ViT-B-32", None, "no CLIP weights configured"),
        ("ViT-B-32", "", "no CLIP weights configured"),
        ("ViT-B-32", "/nonexistent/clip.safetensors", "no such file, and not a pretrained tag"),
        ("ViT-B-32", "laion2b_s34b_b79k", "are not in the Hugging Face cache"),
        ("ViT-B-32", "openai", "are not in the Hugging Face cache"),
        ("No-Such-CLIP", "openai", "not an open_clip architecture"),
        ("hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K", None, "not in the local Hugging Face cache"),
        ("local-dir:/nonexistent/clip", None, "does not exist"),
    ],
)
def test_load_without_weights_is_unavailable(model_name, pretrained, reason, tmp_path):
    with pytest.raises(MetricUnavailable, match=reason):
        ClipScorer.load(model_name, pretrained, cache_dir=tmp_path)


def test_folder_without_a_checkpoint_is_unavailable_not_random(saved_folder, tmp_path):
    (tmp_path / "open_clip_config.json").write_text((saved_folder / "open_clip_config.json").read_text())
    with pytest.raises(MetricUnavailable, match=r"no checkpoint .* never computed from untrained weights"):
        ClipScorer.load(f"local-dir:{tmp_path}", None)


def test_corrupt_checkpoint_is_unavailable_with_the_loader_error(saved_folder, tmp_path):
    (tmp_path / "open_clip_config.json").write_text((saved_folder / "open_clip_config.json").read_text())
    (tmp_path / "open_clip_model.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(MetricUnavailable, match="could not be loaded"):
        ClipScorer.load(f"local-dir:{tmp_path}", None)


def _same_embeddings(loaded: ClipScorer, scorer: ClipScorer) -> None:
    video = moving_disc(32, 2)
    torch.testing.assert_close(loaded.embed_frames(video), scorer.embed_frames(video))
    torch.testing.assert_close(loaded.embed_prompts(["a disc"]), scorer.embed_prompts(["a disc"]))


def test_load_from_a_local_folder(saved_folder, scorer):
    loaded = ClipScorer.load(f"local-dir:{saved_folder}", None)
    _same_embeddings(loaded, scorer)
    assert str(saved_folder) in loaded.source


def test_load_a_registered_architecture_with_a_checkpoint_file(saved_folder, scorer, tmp_path):
    config = tmp_path / "lamp-test-tiny-clip.json"
    config.write_text(json.dumps(TINY_CLIP))
    open_clip.add_model_config(config)
    loaded = ClipScorer.load("lamp-test-tiny-clip", str(saved_folder / "open_clip_model.safetensors"))
    _same_embeddings(loaded, scorer)


def test_load_from_the_hub_cache_offline(saved_folder, scorer, tmp_path):
    # The layout huggingface_hub gives a downloaded repository: refs/main names the snapshot.
    repo = tmp_path / "models--lamp-test--tiny-clip"
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    for name in ("open_clip_config.json", "open_clip_model.safetensors"):
        (snapshot / name).write_bytes((saved_folder / name).read_bytes())
    loaded = ClipScorer.load("hf-hub:lamp-test/tiny-clip", None, cache_dir=tmp_path)
    _same_embeddings(loaded, scorer)


def test_frames_are_checked(scorer):
    with pytest.raises(LampError, match="shape"):
        scorer.consistency(smooth_texture(32))
