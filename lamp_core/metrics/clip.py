"""The paper's CLIP metrics: text alignment, frame consistency and diversity across videos (open_clip).

All three are cosine similarities of L2-normalised CLIP embeddings, times 100:

- alignment(video, prompt): mean over frames of cos(frame, prompt). Higher is better.
- consistency(video): mean over all pairs of distinct frames of cos(frame_i, frame_j); 100 for identical
  frames. Higher is better.
- diversity(videos): mean over all pairs of distinct videos of cos(m_a, m_b), where m is a video's mean
  frame embedding (normalised). Lower is better (the videos of one motion differ more).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from huggingface_hub import constants as hub_constants
from huggingface_hub import try_to_load_from_cache
from PIL import Image

from lamp_core.errors import LampError, MetricUnavailable
from lamp_core.metrics.results import MetricResults, check_video, check_videos, merge_results, unavailable

CLIP_METRICS = ("alignment", "consistency", "diversity")


def _mean_pairwise_cosine(embeddings: torch.Tensor) -> float:
    """Mean cosine over all pairs i < j of rows of `embeddings` (N, D), already L2-normalised, x100."""
    n = embeddings.shape[0]
    similarity = embeddings @ embeddings.T
    upper = torch.triu_indices(n, n, offset=1)
    return 100.0 * float(similarity[upper[0], upper[1]].mean())


class ClipScorer:
    """An open_clip model with trained weights, scoring frames and prompts.

    Build it with `ClipScorer.load` (which refuses to run without trained weights); `from_model` wraps an
    already-built model and exists for tests of the plumbing.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        preprocess: Callable[[Image.Image], torch.Tensor],
        tokenizer: Callable[[list[str]], torch.Tensor],
        source: str,
    ) -> None:
        self.model = model.eval()
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.source = source
        self.device = next(model.parameters()).device

    @classmethod
    def load(
        cls,
        model_name: str,
        pretrained: str | None,
        *,
        cache_dir: str | Path | None = None,
        device: str | torch.device = "cpu",
    ) -> ClipScorer:
        """Load trained CLIP weights found on this machine, or raise `MetricUnavailable`."""
        import open_clip  # deferred: importing open_clip takes several seconds, flow metrics do not need it

        weights = resolve_clip_weights(model_name, pretrained, cache_dir)
        cache = None if cache_dir is None else str(cache_dir)
        try:
            with hub_offline():
                model, _, preprocess = open_clip.create_model_and_transforms(
                    weights.model_name,
                    pretrained=weights.checkpoint,
                    device=device,
                    cache_dir=cache,
                    **weights.transform_overrides,
                )
                tokenizer = open_clip.get_tokenizer(weights.model_name, cache_dir=cache)
        except Exception as exc:  # any failure of a third-party loader means "unavailable", with its reason
            raise MetricUnavailable(
                f"CLIP {weights.description}: could not be loaded ({type(exc).__name__}: {exc})"
            ) from None
        return cls(model, preprocess, tokenizer, source=weights.description)

    @classmethod
    def from_model(
        cls,
        model: torch.nn.Module,
        preprocess: Callable[[Image.Image], torch.Tensor],
        tokenizer: Callable[[list[str]], torch.Tensor],
    ) -> ClipScorer:
        """Wrap a built open_clip model as is. Nothing checks that its weights are trained: tests only."""
        return cls(model, preprocess, tokenizer, source=f"in-memory {type(model).__name__}")

    @torch.inference_mode()
    def embed_frames(self, video: np.ndarray) -> torch.Tensor:
        """L2-normalised image embeddings (T, D) of all frames of `video`, in one forward pass."""
        video = check_video(video)
        # open_clip's own PIL transform, so that scores match the usual CLIP-score computation.
        batch = torch.stack([self.preprocess(Image.fromarray(frame)) for frame in video]).to(self.device)
        return self.model.encode_image(batch, normalize=True).float().cpu()

    @torch.inference_mode()
    def embed_prompts(self, prompts: Sequence[str]) -> torch.Tensor:
        """L2-normalised text embeddings (N, D) of `prompts`."""
        tokens = self.tokenizer(list(prompts)).to(self.device)
        return self.model.encode_text(tokens, normalize=True).float().cpu()

    def alignment(self, video: np.ndarray, prompt: str) -> float:
        """100 x mean cosine between each frame and the prompt; in [-100, 100], higher is better."""
        return 100.0 * float((self.embed_frames(video) @ self.embed_prompts([prompt])[0]).mean())

    def consistency(self, video: np.ndarray) -> float:
        """100 x mean cosine over all pairs of distinct frames (T >= 2); in [-100, 100], higher is better."""
        check_video(video, min_frames=2)
        return _mean_pairwise_cosine(self.embed_frames(video))

    def diversity(self, videos: Sequence[np.ndarray]) -> float:
        """100 x mean cosine between the mean frame embeddings of all pairs of videos (at least 2).

        In [-100, 100]; lower is better.
        """
        videos = check_videos(videos, "video", min_count=2)
        return _mean_pairwise_cosine(self._video_embeddings([self.embed_frames(v) for v in videos]))

    @staticmethod
    def _video_embeddings(frame_embeddings: list[torch.Tensor]) -> torch.Tensor:
        means = torch.stack([frames.mean(dim=0) for frames in frame_embeddings])
        return torch.nn.functional.normalize(means, dim=-1)

    def report(self, videos: Sequence[np.ndarray], prompts: Sequence[str]) -> MetricResults:
        """Alignment and consistency averaged over `videos`, and their diversity; each video embedded once."""
        videos = check_videos(videos, "video", min_frames=2)
        if len(prompts) != len(videos):
            raise LampError(f"prompts: {len(prompts)} given for {len(videos)} videos")
        frames = [self.embed_frames(video) for video in videos]
        texts = self.embed_prompts(prompts)
        per_video_alignment = [float((f @ t).mean()) for f, t in zip(frames, texts, strict=True)]
        results: MetricResults = {
            "alignment": 100.0 * float(np.mean(per_video_alignment)),
            "consistency": float(np.mean([_mean_pairwise_cosine(f) for f in frames])),
        }
        if len(videos) < 2:
            return merge_results(results, unavailable(["diversity"], "diversity needs at least 2 videos"))
        results["diversity"] = _mean_pairwise_cosine(self._video_embeddings(frames))
        return results


def clip_report(
    videos: Sequence[np.ndarray], prompts: Sequence[str], scorer: ClipScorer | MetricUnavailable
) -> MetricResults:
    """CLIP metrics of `videos` with their `prompts`; all None with the reason when `scorer` is unavailable.

    Typical use::

        try:
            scorer = ClipScorer.load(settings.clip_model, settings.clip_pretrained)
        except MetricUnavailable as reason:
            scorer = reason
        results = clip_report(videos, prompts, scorer)
    """
    if isinstance(scorer, MetricUnavailable):
        return unavailable(CLIP_METRICS, scorer.reason)
    return scorer.report(videos, prompts)


# Finding CLIP weights on this machine, offline: a checkpoint file, a local folder, or the hub cache.
#
# Nothing is downloaded. Whatever cannot be found raises `MetricUnavailable` with the reason, so that the CLIP
# metrics are reported as unavailable rather than computed from a randomly initialised model.
#
# Accepted forms of (model_name, pretrained):
#
# - (`"ViT-B-32"`, `"/path/to/weights.safetensors"`): a built-in open_clip architecture and a checkpoint file;
# - (`"ViT-B-32"`, `"laion2b_s34b_b79k"`): an open_clip pretrained tag whose weights are already in the local
#   Hugging Face cache (or, for URL-only tags, in open_clip's `~/.cache/clip`);
# - (`"local-dir:/path/to/folder"`, ignored): a folder with `open_clip_config.json` and a checkpoint;
# - (`"hf-hub:org/repo"`, ignored): such a folder already in the local Hugging Face cache.

# The checkpoint names open_clip looks for in a `local-dir:` folder, and its default hub file names.
_FOLDER_CHECKPOINT_GLOBS = ("*.safetensors", "*.bin", "*.pth")
_HUB_CHECKPOINT_NAMES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
_HUB_CONFIG_NAME = "open_clip_config.json"


@dataclass(frozen=True)
class ClipWeights:
    """What to hand to `open_clip.create_model_and_transforms` to load trained weights from local files."""

    model_name: str
    checkpoint: str | None
    """A checkpoint file; None for `local-dir:` names, whose folder holds it."""
    description: str
    """Where the weights come from, for reports."""
    transform_overrides: dict[str, Any] = field(default_factory=dict)
    """Preprocessing (mean, std, ...) and activation settings that a pretrained tag prescribes."""


@contextlib.contextmanager
def hub_offline() -> Iterator[None]:
    """Make huggingface_hub refuse network access for the duration (what HF_HUB_OFFLINE=1 does at start-up).

    huggingface_hub reads the HF_HUB_OFFLINE variable once at import; its functions consult this constant.
    """
    previous = hub_constants.HF_HUB_OFFLINE
    hub_constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        hub_constants.HF_HUB_OFFLINE = previous


def _cached_hub_file(repo_id: str, filename: str, cache_dir: str | Path | None) -> str | None:
    path = try_to_load_from_cache(repo_id, filename, cache_dir=cache_dir)
    return path if isinstance(path, str) else None


def _folder_weights(folder: Path, origin: str) -> ClipWeights:
    if not (folder / _HUB_CONFIG_NAME).is_file():
        raise MetricUnavailable(f"{origin}: no {_HUB_CONFIG_NAME} in {folder}")
    if not any(next(folder.glob(pattern), None) for pattern in _FOLDER_CHECKPOINT_GLOBS):
        raise MetricUnavailable(
            f"{origin}: no checkpoint ({', '.join(_FOLDER_CHECKPOINT_GLOBS)}) in {folder}; "
            "CLIP metrics are never computed from untrained weights"
        )
    return ClipWeights(f"local-dir:{folder}", None, origin)


def _tag_weights(model_name: str, tag: str, cache_dir: str | Path | None) -> ClipWeights:
    """Weights of an open_clip pretrained tag, if a copy is already on this machine."""
    import open_clip  # deferred: importing open_clip takes several seconds

    config = open_clip.get_pretrained_cfg(model_name, tag)
    overrides = {
        "image_mean": config.get("mean"),
        "image_std": config.get("std"),
        "image_interpolation": config.get("interpolation"),
        "image_resize_mode": config.get("resize_mode"),
        "force_quick_gelu": bool(config.get("quick_gelu", False)),
    }
    overrides = {key: value for key, value in overrides.items() if value is not None}
    if config.get("hf_hub"):
        # open_clip's convention: "org/repo/" (default file names) or "org/repo/file.bin".
        repo_id, filename = os.path.split(config["hf_hub"])
        if filename:
            names = [Path(filename).with_suffix(".safetensors").name, filename]
        else:
            names = list(_HUB_CHECKPOINT_NAMES)
        for name in names:
            path = _cached_hub_file(repo_id, name, cache_dir)
            if path:
                return ClipWeights(model_name, path, f"{model_name} {tag} ({path})", overrides)
        where = f"the Hugging Face cache{f' at {cache_dir}' if cache_dir else ''}"
        raise MetricUnavailable(
            f"CLIP {model_name} weights {tag!r} (hf-hub {repo_id}) are not in {where}; nothing is downloaded "
            "here: put a checkpoint file on this machine and name it in params.yaml metrics.clip_pretrained"
        )
    url_file = Path(cache_dir or Path.home() / ".cache" / "clip") / os.path.basename(config.get("url", ""))
    if config.get("url") and url_file.is_file():
        return ClipWeights(model_name, str(url_file), f"{model_name} {tag} ({url_file})", overrides)
    raise MetricUnavailable(
        f"CLIP {model_name} weights {tag!r} are not on this machine (looked for {url_file}); nothing is "
        "downloaded here: put a checkpoint file on this machine and name it in params.yaml "
        "metrics.clip_pretrained"
    )


def resolve_clip_weights(
    model_name: str, pretrained: str | None, cache_dir: str | Path | None = None
) -> ClipWeights:
    """Locate trained CLIP weights for (`model_name`, `pretrained`) here, or raise `MetricUnavailable`."""
    if model_name.startswith("local-dir:"):
        folder = Path(model_name.removeprefix("local-dir:")).expanduser()
        if not folder.is_dir():
            raise MetricUnavailable(f"{model_name}: folder {folder} does not exist")
        return _folder_weights(folder, model_name)
    if model_name.startswith("hf-hub:"):
        repo_id = model_name.removeprefix("hf-hub:")
        config_path = _cached_hub_file(repo_id, _HUB_CONFIG_NAME, cache_dir)
        if config_path is None:
            raise MetricUnavailable(
                f"{model_name}: not in the local Hugging Face cache; nothing is downloaded here"
            )
        return _folder_weights(Path(config_path).parent, model_name)
    if not pretrained:
        raise MetricUnavailable(
            "no CLIP weights configured (params.yaml metrics.clip_pretrained is null); CLIP metrics are "
            "never computed from untrained weights"
        )
    import open_clip  # deferred: importing open_clip takes several seconds

    if model_name not in open_clip.list_models():
        raise MetricUnavailable(f"{model_name!r} is not an open_clip architecture (open_clip.list_models())")
    path = Path(pretrained).expanduser()
    if path.is_file():
        return ClipWeights(model_name, str(path), f"{model_name} ({path})")
    if pretrained in open_clip.list_pretrained_tags_by_model(model_name):
        return _tag_weights(model_name, pretrained, cache_dir)
    raise MetricUnavailable(
        f"CLIP weights {pretrained!r}: no such file, and not a pretrained tag of {model_name} "
        f"(tags: {', '.join(open_clip.list_pretrained_tags_by_model(model_name)) or 'none'})"
    )
