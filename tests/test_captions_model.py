"""Captions from an image-to-text model: a tiny, randomly initialised one built and saved by the test.

It proves the plumbing (load from a local path, caption each clip's middle frame, write captions.csv),
not the quality of the captions.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
from pipeline_settings import from_params

from lamp_core.data import CaptionSpec, IngestSettings, build_frame_cache, ingest_motion
from lamp_core.errors import LampError
from lamp_core.params import motion_config

WORDS = ["a", "red", "green", "blue", "circle", "square", "triangle", "moving", "sliding", "left", "right",
         "up", "down", "on", "the", "background"]  # fmt: skip
SPECIAL = ["[PAD]", "[UNK]", "[BOS]", "[EOS]"]


@pytest.fixture(scope="module")
def captioner_dir(tmp_path_factory):
    """A ViT + GPT-2 vision encoder-decoder with a word-level tokenizer, saved like any hub checkpoint."""
    import torch
    import transformers
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {word: index for index, word in enumerate(SPECIAL + WORDS)}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]", bos_token="[BOS]", eos_token="[EOS]"
    )
    encoder = transformers.ViTConfig(
        image_size=32,
        patch_size=8,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
    )
    decoder = transformers.GPT2Config(
        vocab_size=len(vocab), n_embd=32, n_layer=1, n_head=2, n_positions=32, add_cross_attention=True,
        is_decoder=True, bos_token_id=2, eos_token_id=3, pad_token_id=0,
    )  # fmt: skip
    config = transformers.VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id, config.pad_token_id, config.eos_token_id = 2, 0, 3
    torch.manual_seed(0)
    model = transformers.VisionEncoderDecoderModel(config=config)
    generation = model.generation_config
    generation.decoder_start_token_id, generation.pad_token_id, generation.eos_token_id = 2, 0, 3
    # An untrained decoder repeats its start token forever; keep it to words so captions are not empty.
    generation.suppress_tokens, generation.begin_suppress_tokens = [0, 1, 2], [3]
    folder = tmp_path_factory.mktemp("captioner")
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    transformers.ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def test_model_captions_each_clip(tmp_path, media, captioner_dir):
    from lamp_core.data.captions import ImageCaptioner

    raw = tmp_path / "raw"
    raw.mkdir()
    for k in range(3):
        media.make_video(raw / f"v{k}.mp4", variant=3 * k, seconds=2)
    settings = from_params(
        IngestSettings, "ingest", width=32, height=32, fps=8, window_frames=8, max_clip_frames=32, min_clips=3
    )
    ingest_motion(raw, tmp_path / "clips", settings)
    params = {
        "defaults": {"width": 32, "height": 32, "fps": 8, "n_frames": 8, "sample_rate": 1, "min_clips": 3,
                     "max_clip_seconds": 4},
        "motions": {"pattern": {"prompt": "a test pattern"}},
        "frames": {"caption_source": "model", "captioner": str(captioner_dir)},
    }  # fmt: skip
    motion = motion_config(params, "pattern")
    spec = CaptionSpec.from_params(params, motion)
    cache = build_frame_cache(tmp_path / "clips", tmp_path / "frames", motion, spec)

    with (tmp_path / "frames" / "captions.csv").open(encoding="utf-8", newline="") as handle:
        written = {row["clip"]: row["caption"] for row in csv.DictReader(handle)}
    assert written == cache.captions and len(written) == 3
    direct = ImageCaptioner(captioner_dir)(np.stack([clip[len(clip) // 2] for clip in cache.clips.values()]))
    assert list(written.values()) == direct  # exactly what the model says about each middle frame
    for caption in written.values():
        assert caption and set(caption.split()) <= set(WORDS)


def test_unloadable_captioner_is_a_clear_error(tmp_path):
    from lamp_core.data.captions import ImageCaptioner

    (tmp_path / "not_a_model").mkdir()
    with pytest.raises(LampError, match=r"not_a_model: cannot load the image-to-text local model folder"):
        ImageCaptioner(tmp_path / "not_a_model")
