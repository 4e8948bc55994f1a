"""params.yaml as the DVC pipeline reads it: which stages a change of a setting re-runs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from dvc.dependency.param import ParamsDependency
from dvc.repo import Repo

from lamp_core.errors import LampError
from lamp_core.params import evaluation_entry, load_params

REPO = Path(__file__).resolve().parents[1]


def _value(params: dict[str, Any], dotted: str) -> Any:
    node: Any = params
    for part in dotted.split("."):
        node = node[part]
    return node


@pytest.fixture(scope="module")
def tracked_params() -> dict[str, list[str]]:
    """Stage name -> the params.yaml keys DVC tracks for it, read from the real dvc.yaml."""
    with Repo(str(REPO)) as repo:
        return {
            stage.addressing: [
                key for dep in stage.deps if isinstance(dep, ParamsDependency) for key in dep.params
            ]
            for stage in repo.index.stages
        }


def _stages_changed_by(edit, tracked: dict[str, list[str]]) -> set[str]:
    # DVC re-runs a stage when the value of a key it tracks differs from the one in dvc.lock.
    before = load_params(REPO / "params.yaml")
    after = copy.deepcopy(before)
    edit(after)
    return {
        stage
        for stage, keys in tracked.items()
        if any(_value(before, key) != _value(after, key) for key in keys)
    }


def test_editing_evaluation_prompts_reruns_generation_and_evaluation_not_tuning(tracked_params) -> None:
    def edit(params: dict) -> None:
        params["evaluation"]["slide_right"]["eval_prompts"][0]["prompt"] = "{caption}, moving right"

    changed = _stages_changed_by(edit, tracked_params)
    assert {"generate@slide_right", "evaluate@slide_right"} <= changed
    assert not {s for s in changed if s.split("@")[0] in ("examples", "ingest", "frames", "tune")}


def test_editing_a_motion_reruns_its_tuning(tracked_params) -> None:
    def edit(params: dict) -> None:
        params["motions"]["slide_down"]["tune"]["steps"] = 201

    changed = _stages_changed_by(edit, tracked_params)
    assert {"tune@slide_down", "generate@slide_down", "evaluate@slide_down"} <= changed
    assert "tune@slide_right" not in changed


def test_evaluation_entry_of_a_motion() -> None:
    params = {
        "motions": {"a": {"prompt": "x"}, "b": {}},
        "evaluation": {"a": {"expected_motion": {"direction_deg": 0}}},
    }
    assert evaluation_entry(params, "a") == {"expected_motion": {"direction_deg": 0}}
    assert evaluation_entry(params, "b") == {}
    with pytest.raises(LampError, match="no motion named 'c'"):
        evaluation_entry(params, "c")
    with pytest.raises(LampError, match=r"motions\.b holds eval_prompts; they belong under evaluation\.b"):
        evaluation_entry({**params, "motions": {"b": {"eval_prompts": []}}}, "b")
    with pytest.raises(LampError, match=r"evaluation\.a must be a mapping"):
        evaluation_entry({**params, "evaluation": {"a": ["not", "a", "mapping"]}}, "a")


def test_the_shipped_motions_keep_evaluation_settings_out_of_motions() -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    for name, entry in params["motions"].items():
        assert not {"eval_prompts", "expected_motion"} & set(entry or {}), name
        assert evaluation_entry(params, name)["eval_prompts"], name


def _read_section(params: dict[str, Any], section: str) -> None:
    from lamp_core.metrics import MetricsSettings
    from lamp_core.report import EvaluateSettings
    from lamp_core.sampling import GenerateSettings
    from lamp_core.tiny_base import PretrainConfig
    from lamp_core.training import ModelSettings, TuneSettings

    readers = {
        "tune": lambda: TuneSettings.from_dict(params["tune"]),
        "model": lambda: ModelSettings.from_dict(params["model"]),
        "generate": lambda: GenerateSettings.from_params(params["generate"]),
        "metrics": lambda: MetricsSettings.from_params(params),
        "metrics.flow": lambda: MetricsSettings.from_params(params),
        "evaluate": lambda: EvaluateSettings.from_params(params),
        "base": lambda: PretrainConfig.from_dict(
            {k: v for k, v in params["base"].items() if k not in ("model", "output", "evaluate")}
        ),
    }
    readers[section]()


@pytest.mark.parametrize(
    ("section", "key", "bad"),
    [
        ("tune", "steps", "many"),
        ("model", "temporal_kernel_size", "many"),
        ("generate", "num_inference_steps", "many"),
        ("metrics", "clip_model", ["a", "list"]),
        ("metrics.flow", "winsize", "many"),
        ("evaluate", "reference_gifs", "many"),
        ("base", "unet_steps", "many"),
    ],
)
def test_a_misspelt_key_or_bad_value_in_any_section_gets_the_same_message_with_its_path(
    section: str, key: str, bad: Any
) -> None:
    params = load_params(Path(__file__).resolve().parents[1] / "params.yaml")
    _read_section(params, section)  # params.yaml as it is reads
    node = params
    for part in section.split("."):
        node = node[part]
    node["learnig_rate"] = 1
    with pytest.raises(LampError, match=rf"^params\.yaml: unknown key `{section}\.learnig_rate` \(known: "):
        _read_section(params, section)
    del node["learnig_rate"]
    node[key] = bad
    with pytest.raises(LampError, match=rf"^params\.yaml: `{section}\.{key}`: expected a"):
        _read_section(params, section)
