"""The tiny base model's components, in exactly the formats of an SD 1.x diffusers folder, its word-level
tokenizer included.

`build_tiny_sd_components` makes randomly initialised components (cheap: well under two seconds);
`save_tiny_sd` writes them as a folder that loads with the same calls as `CompVis/stable-diffusion-v1-4`:
`StableDiffusionPipeline.from_pretrained(path, safety_checker=None)`, `UNet2DConditionModel.from_pretrained(
path, subfolder="unet")`, `CLIPTokenizer.from_pretrained(path, subfolder="tokenizer")`, and so on.
"""

from __future__ import annotations

import itertools
import json
import tempfile
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from diffusers import AutoencoderKL, DDPMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import BPE
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from lamp_core.atomic_write import replacing
from lamp_core.errors import LampError
from lamp_core.synthetic import BACKGROUND_COLORS, MOTIONS, OBJECT_COLORS, SHAPES

# A tiny CLIP-convention BPE tokenizer, trained with the `tokenizers` library on the renderer's captions.
#
# It follows CLIP's conventions so that `transformers.CLIPTokenizer` loads it like SD 1.x's: byte-level
# BPE over lower-cased, whitespace-normalised text, `</w>` marking the end of a word, `<|startoftext|>` and
# `<|endoftext|>` (also padding and unknown) as the last two ids, and a model_max_length of 77. The vocabulary
# starts with every byte, so any text encodes; words of the captions are single tokens.

BOS_TOKEN = "<|startoftext|>"
EOS_TOKEN = "<|endoftext|>"
END_OF_WORD = "</w>"
MODEL_MAX_LENGTH = 77

# CLIP's pre-tokenisation: special tokens, English contractions, letter runs, single digits, other runs.
_WORDS = r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""

# Words a user is likely to put in a motion prompt; they become whole tokens too.
_PROMPT_WORDS = (
    "an object moving sliding orbiting turning circling rotating spinning rolling zooming bouncing falling "
    "rising flying running walking left right up down around forward backward slowly quickly fast slow "
    "video of the a shape ball box with and in on background foreground camera zoom pan roll into out"
)


def byte_alphabet() -> list[str]:
    """The 256 printable characters that stand for bytes 0..255 in byte-level BPE (GPT-2/CLIP order)."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars = {b: chr(b) for b in printable}
    spare = (chr(256 + n) for n in itertools.count())
    return [chars[b] if b in chars else next(spare) for b in range(256)]


def _objects_words(pairs: list[tuple[str, str]]) -> str:
    return " and ".join(f"{'an' if color[0] in 'aeiou' else 'a'} {color} {shape}" for color, shape in pairs)


def caption_corpus() -> list[str]:
    """Sentences covering every word and word order the renderer's captions use, the motions' names as
    words, and common prompt words.

    Every one-object caption is listed; for two and three objects each colour-shape pair appears once
    in every position (the full product is too large, and adds no word).
    """
    pairs = list(itertools.product(OBJECT_COLORS, SHAPES))
    backgrounds = list(BACKGROUND_COLORS)
    captions = [
        f"{_objects_words([pair])} on a {background} background"
        for pair, background in itertools.product(pairs, backgrounds)
    ]
    for n_objects in (2, 3):
        for i in range(len(pairs)):
            chosen = [pairs[(i + k * 7) % len(pairs)] for k in range(n_objects)]
            captions.append(f"{_objects_words(chosen)} on a {backgrounds[i % len(backgrounds)]} background")
    return [*captions, *(m.replace("_", " ") for m in MOTIONS), _PROMPT_WORDS]


def _clip_pipeline(model: BPE) -> Tokenizer:
    tokenizer = Tokenizer(model)
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_WORDS), behavior="removed", invert=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False),
        ]
    )
    return tokenizer


def _learn_merges(word_counts: Counter[tuple[str, ...]], max_merges: int) -> list[tuple[str, str]]:
    # Classic BPE: repeatedly merge the most frequent adjacent pair. Ties go to the lexicographically
    # smallest pair, which makes the result independent of hashing order (the `tokenizers` trainer's
    # tie-breaking is not reproducible from run to run).
    words = dict(word_counts)
    merges: list[tuple[str, str]] = []
    while len(merges) < max_merges:
        pairs: Counter[tuple[str, str]] = Counter()
        for symbols, count in words.items():
            for pair in itertools.pairwise(symbols):
                pairs[pair] += count
        if not pairs:
            break
        best = min(pairs, key=lambda pair: (-pairs[pair], pair))
        merges.append(best)
        words = {_merge_pair(symbols, best): count for symbols, count in words.items()}
    return merges


def _merge_pair(symbols: tuple[str, ...], pair: tuple[str, str]) -> tuple[str, ...]:
    out: list[str] = []
    i = 0
    while i < len(symbols):
        if symbols[i : i + 2] == pair:
            out.append(pair[0] + pair[1])
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return tuple(out)


@lru_cache(maxsize=4)
def train_clip_bpe(corpus: tuple[str, ...], max_merges: int = 512) -> tuple[dict[str, int], list[str]]:
    """Learn BPE merges on `corpus`; return CLIP's layout `(vocab, merges)`.

    Words are split exactly as `CLIPTokenizer` splits them (the `tokenizers` normaliser and
    pre-tokeniser below). The vocabulary is ordered as CLIP's: the 256 byte characters, the same with
    `</w>`, one token per merge in merge order, then `<|startoftext|>` and `<|endoftext|>`.
    Deterministic for a given corpus.
    """
    splitter = _clip_pipeline(BPE(end_of_word_suffix=END_OF_WORD))
    word_counts: Counter[tuple[str, ...]] = Counter()
    for text in corpus:
        normalized = splitter.normalizer.normalize_str(text)
        for word, _ in splitter.pre_tokenizer.pre_tokenize_str(normalized):
            word_counts[(*word[:-1], word[-1] + END_OF_WORD)] += 1
    merges = _learn_merges(word_counts, max_merges)
    alphabet = byte_alphabet()
    tokens = [*alphabet, *(c + END_OF_WORD for c in alphabet)]
    known = set(tokens)
    for left, right in merges:
        if left + right not in known:
            known.add(left + right)
            tokens.append(left + right)
    tokens += [BOS_TOKEN, EOS_TOKEN]
    return {token: i for i, token in enumerate(tokens)}, [f"{left} {right}" for left, right in merges]


def save_clip_tokenizer(path: str | Path, vocab: dict[str, int], merges: list[str]) -> None:
    """Write `vocab.json`, `merges.txt` and the configs that `CLIPTokenizer.from_pretrained` reads."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (path / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    special = {"bos_token": BOS_TOKEN, "eos_token": EOS_TOKEN, "pad_token": EOS_TOKEN, "unk_token": EOS_TOKEN}
    config = {
        "tokenizer_class": "CLIPTokenizer",
        "model_max_length": MODEL_MAX_LENGTH,
        "do_lower_case": True,
        "errors": "replace",
        "add_prefix_space": False,
        **special,
    }
    (path / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    (path / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n", encoding="utf-8")


# Attention costs grow with the square of the token count: only levels at or below this side get it.
MAX_ATTENTION_SIDE = 8


def sd1_scheduler() -> DDPMScheduler:
    """The DDPM noise schedule of SD 1.x: 1000 steps, scaled-linear betas 0.00085..0.012, epsilon."""
    return DDPMScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        prediction_type="epsilon",
        clip_sample=False,
        steps_offset=1,
    )


def build_tokenizer(path: str | Path) -> CLIPTokenizer:
    """Write the tiny CLIP-convention tokenizer's files into `path` and load it from there."""
    vocab, merges = train_clip_bpe(tuple(caption_corpus()))
    save_clip_tokenizer(path, vocab, merges)
    return CLIPTokenizer.from_pretrained(str(path))


def build_tiny_sd_components(
    seed: int = 0,
    sample_size: int = 64,
    vae_channels: tuple[int, ...] = (16, 32, 64),
    unet_channels: tuple[int, ...] = (32, 64, 64),
    text_width: int = 64,
    text_layers: int = 2,
    latent_channels: int = 4,
    scaling_factor: float = 1.0,
    tokenizer_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Randomly initialised SD 1.x-format components, keyed as `StableDiffusionPipeline` arguments.

    `sample_size` is the image side in pixels; the VAE downsamples by `2 ** (len(vae_channels) - 1)`, and
    the UNet has one level per entry of `unet_channels` (cross-attention at latent sides <= 8).
    `scaling_factor` is the VAE's latent scale (pre-training measures it). The tokenizer is written to
    `tokenizer_dir` (a temporary folder if None). Deterministic given `seed`; leaves the global RNG as it was.
    """
    factor = 2 ** (len(vae_channels) - 1)
    latent_side = sample_size // factor
    if sample_size % factor or latent_side % 2 ** (len(unet_channels) - 1):
        raise LampError(
            f"sample_size {sample_size} must be divisible by the VAE factor {factor} times the UNet's "
            f"{2 ** (len(unet_channels) - 1)}"
        )
    for channels in (*vae_channels, *unet_channels):
        if channels % 8:
            raise LampError(f"channel counts must be multiples of 8 (GroupNorm groups), got {channels}")

    if tokenizer_dir is None:
        with tempfile.TemporaryDirectory(prefix="lamp-tokenizer-") as scratch:
            tokenizer = build_tokenizer(scratch)  # loaded into memory: the files are no longer needed
    else:
        tokenizer = build_tokenizer(tokenizer_dir)

    sides = [latent_side // 2**i for i in range(len(unet_channels))]
    down = tuple("CrossAttnDownBlock2D" if s <= MAX_ATTENTION_SIDE else "DownBlock2D" for s in sides)
    up = tuple("CrossAttnUpBlock2D" if s <= MAX_ATTENTION_SIDE else "UpBlock2D" for s in reversed(sides))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        text_encoder = CLIPTextModel(
            CLIPTextConfig(
                vocab_size=len(tokenizer),
                hidden_size=text_width,
                intermediate_size=4 * text_width,
                projection_dim=text_width,
                num_hidden_layers=text_layers,
                num_attention_heads=max(text_width // 32, 1),
                max_position_embeddings=MODEL_MAX_LENGTH,
                hidden_act="quick_gelu",
                bos_token_id=tokenizer.convert_tokens_to_ids(BOS_TOKEN),
                eos_token_id=tokenizer.convert_tokens_to_ids(EOS_TOKEN),
                pad_token_id=tokenizer.convert_tokens_to_ids(EOS_TOKEN),
            )
        )
        vae = AutoencoderKL(
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D",) * len(vae_channels),
            up_block_types=("UpDecoderBlock2D",) * len(vae_channels),
            block_out_channels=tuple(vae_channels),
            layers_per_block=1,
            latent_channels=latent_channels,
            norm_num_groups=8,
            sample_size=sample_size,
            scaling_factor=scaling_factor,
            mid_block_add_attention=False,
        )
        unet = UNet2DConditionModel(
            sample_size=latent_side,
            in_channels=latent_channels,
            out_channels=latent_channels,
            down_block_types=down,
            up_block_types=up,
            block_out_channels=tuple(unet_channels),
            layers_per_block=1,
            cross_attention_dim=text_width,
            attention_head_dim=8,
            norm_num_groups=8,
        )
    return {
        "unet": unet,
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "scheduler": sd1_scheduler(),
    }


def save_tiny_sd(components: dict[str, Any], path: str | Path) -> Path:
    """Save components as an SD 1.x diffusers folder (safetensors weights) at `path`, and return it.

    The folder is written beside `path` first and swapped in at the end, so a failure leaves any earlier
    model intact. An existing `path` is only replaced if it is a diffusers folder (has model_index.json).
    """
    path = Path(path)
    if path.exists() and any(path.iterdir()) and not (path / "model_index.json").is_file():
        raise LampError(f"{path}: exists and is not a diffusers model folder; refusing to overwrite it")
    missing = sorted({"unet", "vae", "text_encoder", "tokenizer", "scheduler"} - set(components))
    if missing:
        raise LampError(f"cannot save {path}: components lack {', '.join(missing)}")
    pipeline = StableDiffusionPipeline(
        vae=components["vae"],
        text_encoder=components["text_encoder"],
        tokenizer=components["tokenizer"],
        unet=components["unet"],
        scheduler=components["scheduler"],
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    with replacing(path, folder=True) as staging:
        pipeline.save_pretrained(staging, safe_serialization=True)
        _write_clip_tokenizer_files(components["tokenizer"], staging / "tokenizer")
    return path


def _write_clip_tokenizer_files(tokenizer: CLIPTokenizer, folder: Path) -> None:
    # transformers 5 saves only tokenizer.json; SD 1.x folders (and older readers) carry vocab + merges.
    model = json.loads(tokenizer.backend_tokenizer.to_str())["model"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    vocab = {token: i for token, i in tokenizer.get_vocab().items()}
    save_clip_tokenizer(folder, dict(sorted(vocab.items(), key=lambda item: item[1])), merges)
