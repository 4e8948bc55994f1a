"""The paper's CLIP metrics: text alignment, frame consistency and diversity across videos (open_clip).

All three are cosine similarities of L2-normalised CLIP embeddings, times 100:

- alignment(video, prompt): mean over frames of cos(frame, prompt). Higher is better.
- consistency(video): mean over all pairs of distinct frames of cos(frame_i, frame_j); 100 for identical
  frames. Higher is better.
- diversity(videos): mean over all pairs of distinct videos of cos(m_a, m_b), where m is a video's mean
  frame embedding (normalised). Lower is better (the videos of one motion differ more).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from lamp_core.errors import LampError, MetricUnavailable
from lamp_core.metrics.clip_weights import hub_offline, resolve_clip_weights
from lamp_core.metrics.results import MetricResults, merge_results, unavailable
from lamp_core.metrics.validation import check_video, check_videos

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
        """Load trained CLIP weights from this machine (see `clip_weights`), or raise `MetricUnavailable`."""
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
