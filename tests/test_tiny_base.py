"""Tests of the tiny SD 1.x-format base: components, folder format, tokenizer, pre-training, evaluation."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from diffusers import AutoencoderKL, DDPMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from pipeline_settings import PARAMS, from_params
from transformers import CLIPTextModel, CLIPTokenizer

from lamp_core.errors import LampError
from lamp_core.synthetic import SHAPES, sample_image
from lamp_core.tiny_base import (
    PretrainConfig,
    build_tiny_sd_components,
    caption_corpus,
    caption_fidelity,
    describe_image,
    pretrain_tiny_sd,
    save_tiny_sd,
)

SMALL = {
    "sample_size": 16,
    "vae_channels": (8, 16),
    "unet_channels": (16, 32),
    "text_width": 32,
    "text_layers": 1,
}


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    # Models this small run as fast on one thread, and far faster on a machine shared with other jobs.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny_sd")
    components = build_tiny_sd_components(seed=3, tokenizer_dir=root / "tok", **SMALL)
    return components, save_tiny_sd(components, root / "sd")


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_folder_has_the_sd1_layout_with_safetensors(saved):
    _, path = saved
    index = json.loads((path / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionPipeline"
    assert index["unet"] == ["diffusers", "UNet2DConditionModel"]
    assert index["vae"] == ["diffusers", "AutoencoderKL"]
    assert index["text_encoder"] == ["transformers", "CLIPTextModel"]
    assert index["tokenizer"] == ["transformers", "CLIPTokenizer"]
    assert index["scheduler"] == ["diffusers", "DDPMScheduler"]
    for part in ("unet", "vae"):
        assert (path / part / "diffusion_pytorch_model.safetensors").is_file()
    assert (path / "text_encoder" / "model.safetensors").is_file()
    assert (path / "tokenizer" / "vocab.json").is_file() and (path / "tokenizer" / "merges.txt").is_file()
    assert not list(path.rglob("*.bin"))


def test_components_load_back_with_the_standard_calls(saved):
    components, path = saved
    assert _same_weights(UNet2DConditionModel.from_pretrained(path, subfolder="unet"), components["unet"])
    assert _same_weights(AutoencoderKL.from_pretrained(path, subfolder="vae"), components["vae"])
    text_encoder = CLIPTextModel.from_pretrained(path, subfolder="text_encoder")
    assert _same_weights(text_encoder, components["text_encoder"])
    scheduler = DDPMScheduler.from_pretrained(path, subfolder="scheduler")
    assert scheduler.config.num_train_timesteps == 1000
    assert scheduler.config.beta_schedule == "scaled_linear"
    assert (scheduler.config.beta_start, scheduler.config.beta_end) == (0.00085, 0.012)
    assert scheduler.config.prediction_type == "epsilon"
    pipeline = StableDiffusionPipeline.from_pretrained(path, safety_checker=None)
    pipeline.set_progress_bar_config(disable=True)
    image = pipeline(
        "a red circle on a black background", num_inference_steps=2, output_type="np", height=16, width=16
    ).images
    assert image.shape == (1, 16, 16, 3) and np.isfinite(image).all()


def test_sizes_follow_the_arguments(saved):
    components, _ = saved
    assert components["vae"].config.latent_channels == 4
    assert components["vae"].config.sample_size == 16
    assert components["unet"].config.sample_size == 8  # one VAE downsampling
    assert components["unet"].config.cross_attention_dim == 32
    latents = components["vae"].encode(torch.zeros(1, 3, 16, 16)).latent_dist.mode()
    assert latents.shape == (1, 4, 8, 8)


def test_same_seed_same_weights_and_the_global_rng_is_left_alone(tmp_path):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = build_tiny_sd_components(seed=5, tokenizer_dir=tmp_path / "a", **SMALL)
    assert torch.equal(torch.rand(3), expected)
    b = build_tiny_sd_components(seed=5, tokenizer_dir=tmp_path / "b", **SMALL)
    c = build_tiny_sd_components(seed=6, tokenizer_dir=tmp_path / "c", **SMALL)
    assert _same_weights(a["unet"], b["unet"]) and _same_weights(a["text_encoder"], b["text_encoder"])
    assert not _same_weights(a["unet"], c["unet"])


def test_tokenizer_round_trips_captions_with_clip_conventions(saved):
    _, path = saved
    tokenizer = CLIPTokenizer.from_pretrained(path, subfolder="tokenizer")
    assert tokenizer.model_max_length == 77
    vocab = tokenizer.get_vocab()
    assert vocab["<|startoftext|>"] == len(vocab) - 2 and vocab["<|endoftext|>"] == len(vocab) - 1
    for caption in caption_corpus():
        ids = tokenizer(caption).input_ids
        assert ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id
        assert tokenizer.decode(ids, skip_special_tokens=True) == caption
    words = "a purple triangle on a dark green background"
    assert tokenizer.tokenize(words.upper()) == [word + "</w>" for word in words.split(" ")]
    padded = tokenizer("a red circle", padding="max_length", max_length=77).input_ids
    assert len(padded) == 77 and padded[-1] == tokenizer.pad_token_id == tokenizer.eos_token_id
    unseen = tokenizer("zebra café 42").input_ids
    assert tokenizer.unk_token_id not in unseen[1:-1]  # byte fallback: any text encodes


def test_save_refuses_to_overwrite_a_folder_that_is_not_a_model(tmp_path, saved):
    components, _ = saved
    precious = tmp_path / "mine"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(LampError, match="not a diffusers model folder"):
        save_tiny_sd(components, precious)
    assert (precious / "notes.txt").read_text() == "keep me"


def test_save_replaces_an_earlier_model(tmp_path, saved):
    components, _ = saved
    target = save_tiny_sd(components, tmp_path / "sd")
    (target / "stale.txt").write_text("old")
    save_tiny_sd(components, target)
    assert (target / "model_index.json").is_file() and not (target / "stale.txt").exists()
    assert not list(tmp_path.glob(".sd.*"))


def test_bad_sizes_are_refused():
    with pytest.raises(LampError, match="divisible"):
        build_tiny_sd_components(sample_size=20, vae_channels=(8, 16, 16), unet_channels=(16, 32))
    with pytest.raises(LampError, match=r"unknown key `base\.steps`"):
        PretrainConfig.from_dict({"steps": 3})


def test_a_few_pretraining_steps_lower_both_losses():
    steps = 24
    config = from_params(
        PretrainConfig,
        "base",
        unet_lr=1e-3,
        image_size=16,
        vae_channels=(8, 16),
        unet_channels=(16, 32),
        text_width=32,
        text_layers=1,
        vae_steps=steps,
        vae_batch=8,
        vae_lr=3e-3,
        unet_steps=steps,
        unet_batch=8,
        latent_pool=32,
        log_every=1,
        threads=1,
    )
    history: dict[str, list[float]] = {"vae": [], "unet": []}
    components, figures = pretrain_tiny_sd(config, lambda phase, step, v: history[phase].append(v["loss"]))
    for phase, losses in history.items():
        assert len(losses) == steps
        assert np.mean(losses[-6:]) < 0.8 * np.mean(losses[:6]), phase
    assert components["vae"].config.scaling_factor == pytest.approx(figures["scaling_factor"])
    assert figures["vae_psnr_db"] > 10.0


def test_caption_fidelity_reads_back_rendered_images():
    rng = np.random.default_rng(0)
    images, captions = zip(*(sample_image(rng, 32, 32) for _ in range(40)), strict=True)
    scores = caption_fidelity(np.stack(images), list(captions))
    assert min(scores.values()) >= 0.85
    blank = np.full((32, 32, 3), 15, dtype=np.uint8)
    assert describe_image(blank) == {"background": "black", "color": None, "shape": None}
    # The first-named object is judged by its colour's presence, wherever it is in a multi-object scene.
    two = [c for c in captions if " and " in c]
    assert (
        len(two) >= 5
        and min(caption_fidelity(np.stack([images[captions.index(c)] for c in two]), two).values()) >= 0.8
    )
    # Captions naming the wrong shape are scored as wrong.
    next_shape = {shape: SHAPES[(i + 1) % len(SHAPES)] for i, shape in enumerate(SHAPES)}
    wrong = [re.sub(r"^(an? \S+ )(\w+)", lambda m: m.group(1) + next_shape[m.group(2)], c) for c in captions]
    assert caption_fidelity(np.stack(images), wrong)["shape_accuracy"] < 0.2


def test_stage_writes_a_loadable_model_with_its_card_and_figures(tmp_path, capsys):
    from stages.pretrain_base import main

    output = tmp_path / "models" / "tiny-sd"
    base = PARAMS["base"] | {
        "model": str(output),
        "output": str(output),
        "seed": 1,
        "image_size": 16,
        "vae_channels": [8, 16],
        "unet_channels": [16, 32],
        "text_width": 32,
        "text_layers": 1,
        "vae_steps": 2,
        "vae_batch": 2,
        "unet_steps": 2,
        "unet_batch": 2,
        "latent_pool": 4,
        "log_every": 1,
        "threads": 1,
        "evaluate": {"samples": 3, "steps": 2, "guidance_scale": 2.0},
    }
    params = tmp_path / "params.yaml"
    params.write_text(json.dumps({"base": base}))  # JSON is YAML
    assert main(["--params", str(params)]) == 0
    assert "base: pre-trained" in capsys.readouterr().out
    card = (output / "README.md").read_text()
    assert "VAE reconstruction PSNR" in card and "![samples from captions](samples.png)" in card
    metrics = json.loads((output / "metrics.json").read_text())
    assert {"vae_psnr_db", "scaling_factor", "color_accuracy", "rendered_color_accuracy"} <= set(metrics)
    log = (output / "training_log.csv").read_text().splitlines()
    assert log[0].startswith("phase,step,loss") and len(log) == 1 + 2 + 2
    assert (output / "samples.png").is_file()
    pipeline = StableDiffusionPipeline.from_pretrained(output, safety_checker=None)
    assert pipeline.vae.config.scaling_factor == pytest.approx(metrics["scaling_factor"])


def test_stage_reports_bad_params_without_a_traceback(tmp_path, capsys):
    from stages.pretrain_base import main

    params = tmp_path / "params.yaml"
    params.write_text("base:\n  output: out\n  vae_stepz: 3\n")
    assert main(["--params", str(params)]) == 1
    assert "unknown key `base.vae_stepz`" in capsys.readouterr().err
    params.write_text("base:\n  seed: 0\n")
    assert main(["--params", str(params)]) == 1
    assert "lacks `output`" in capsys.readouterr().err
