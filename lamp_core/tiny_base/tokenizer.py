"""A tiny CLIP-convention BPE tokenizer, trained with the `tokenizers` library on the renderer's captions.

It follows CLIP's conventions so that `transformers.CLIPTokenizer` loads it like SD 1.x's: byte-level
BPE over lower-cased, whitespace-normalised text, `</w>` marking the end of a word, `<|startoftext|>` and
`<|endoftext|>` (also padding and unknown) as the last two ids, and a model_max_length of 77. The vocabulary
starts with every byte, so any text encodes; words of the captions are single tokens.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from functools import lru_cache
from pathlib import Path

from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import BPE

from lamp_core.synthetic import BACKGROUND_COLORS, MOTIONS, OBJECT_COLORS, SHAPES

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
