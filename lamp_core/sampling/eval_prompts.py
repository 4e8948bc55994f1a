"""A motion's evaluation prompts (`evaluation.<name>.eval_prompts` in params.yaml), parsed and checked.

Each entry: `{prompt: str, first_frame: {render: {seed: N}} | {image: PATH} | {prompt: TEXT}}`, plus
optional `seed` (the video's; default `generate.seed` + the entry's index) and `negative_prompt`.
`{caption}` in a prompt is replaced by what the first frame shows: the rendered scene's caption, or the
first-frame prompt (for an image, it is an error).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lamp_core.errors import LampError

from .first_frame import FirstFrame, FirstFrameSpec

CAPTION_FIELD = "{caption}"
_KEYS = {"prompt", "first_frame", "seed", "negative_prompt"}


@dataclass(frozen=True)
class EvalPrompt:
    """One evaluation video to generate: its id, prompt template, first-frame source and seed."""

    video_id: str
    prompt: str
    first_frame: FirstFrameSpec
    seed: int
    negative_prompt: str | None = None

    def prompt_for(self, first_frame: FirstFrame) -> str:
        """The prompt with `{caption}` filled in from the first frame actually used."""
        if CAPTION_FIELD not in self.prompt:
            return self.prompt
        if first_frame.scene is not None:
            caption = first_frame.scene.caption
        elif self.first_frame.kind == "prompt":
            caption = str(self.first_frame.prompt)
        else:
            raise LampError(
                f"{self.video_id}: {CAPTION_FIELD} in the prompt needs a rendered or prompted first frame"
            )
        return self.prompt.replace(CAPTION_FIELD, caption)


def parse_eval_prompts(motion: str, entries: Any, base_seed: int) -> list[EvalPrompt]:
    """Parse `evaluation.<motion>.eval_prompts`; errors name the entry (`evaluation.x.eval_prompts[2]`)."""
    where = f"params.yaml: evaluation.{motion}.eval_prompts"
    if not isinstance(entries, list) or not entries:
        raise LampError(f"{where}: expected a non-empty list of {{prompt, first_frame}} entries")
    prompts = []
    for index, entry in enumerate(entries):
        at = f"{where}[{index}]"
        if not isinstance(entry, Mapping):
            raise LampError(f"{at}: expected a mapping with prompt and first_frame, got {entry!r}")
        unknown = sorted(set(entry) - _KEYS)
        if unknown:
            raise LampError(f"{at}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_KEYS))})")
        prompt = entry.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise LampError(f"{at}: prompt must be non-empty text")
        if "first_frame" not in entry:
            raise LampError(
                f"{at}: lacks first_frame ({{render: {{seed: N}}}}, {{image: PATH}} or {{prompt: TEXT}})"
            )
        spec = FirstFrameSpec.from_params(entry["first_frame"], at)
        if CAPTION_FIELD in prompt and spec.kind == "image":
            raise LampError(f"{at}: {CAPTION_FIELD} in the prompt needs a rendered or prompted first frame")
        seed = entry.get("seed", base_seed + index)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise LampError(f"{at}: seed must be an integer, got {seed!r}")
        negative = entry.get("negative_prompt")
        if negative is not None and not isinstance(negative, str):
            raise LampError(f"{at}: negative_prompt must be text, got {negative!r}")
        prompts.append(EvalPrompt(f"video_{index:02d}", prompt, spec, seed, negative))
    return prompts
