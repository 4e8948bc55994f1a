"""Finding CLIP weights on this machine, offline: a checkpoint file, a local folder, or the hub cache.

Nothing is downloaded. Whatever cannot be found raises `MetricUnavailable` with the reason, so that the CLIP
metrics are reported as unavailable rather than computed from a randomly initialised model.

Accepted forms of (model_name, pretrained):

- (`"ViT-B-32"`, `"/path/to/weights.safetensors"`): a built-in open_clip architecture and a checkpoint file;
- (`"ViT-B-32"`, `"laion2b_s34b_b79k"`): an open_clip pretrained tag whose weights are already in the local
  Hugging Face cache (or, for URL-only tags, in open_clip's `~/.cache/clip`);
- (`"local-dir:/path/to/folder"`, ignored): a folder with `open_clip_config.json` and a checkpoint;
- (`"hf-hub:org/repo"`, ignored): such a folder already in the local Hugging Face cache.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huggingface_hub import constants as hub_constants
from huggingface_hub import try_to_load_from_cache

from lamp_core.errors import MetricUnavailable

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
