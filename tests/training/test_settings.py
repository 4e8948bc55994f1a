"""The `tune:` and `model:` sections: checked once, with errors that name the key."""

from __future__ import annotations

import importlib.util

import pytest
from pipeline_settings import PARAMS, from_params

from lamp_core.errors import LampError
from lamp_core.model import DEFAULT_TRAINABLE_PATTERNS, InflationConfig
from lamp_core.training import ModelSettings, TuneSettings, base_source


def test_yaml_spellings_and_which_settings_decide_what_is_learned() -> None:
    settings = from_params(
        TuneSettings,
        "tune",
        mixed_precision=False,
        learning_rate="3e-5",
        steps=30000,
        lr_scheduler="constant",
    )
    assert settings.mixed_precision == "no" and settings.learning_rate == 3e-5 and settings.steps == 30000
    assert "steps" not in settings.learning_fields()  # more steps resume an earlier run
    cosine = from_params(TuneSettings, "tune", lr_scheduler="cosine", steps=400)
    assert cosine.learning_fields()["steps"] == 400  # cosine: the curve depends on it


def test_every_tune_key_comes_from_params_yaml() -> None:
    values = dict(PARAMS["tune"])
    del values["learning_rate"]
    with pytest.raises(LampError, match=r"params\.yaml: missing key `tune\.learning_rate`"):
        TuneSettings.from_dict(values)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"stepz": 3}, "unknown key `tune.stepz`"),
        ({"steps": 0}, "tune.steps must be a positive integer"),
        ({"learning_rate": -1.0}, "tune.learning_rate must be a positive number"),
        ({"learning_rate": "fast"}, "`tune.learning_rate`: expected a number, got 'fast'"),
        ({"flip_p": 2}, "tune.flip_p must be between 0 and 1"),
        ({"mixed_precision": "fp8"}, "tune.mixed_precision must be one of no, fp16, bf16"),
        ({"gradient_checkpointing": "yes"}, "`tune.gradient_checkpointing`: expected true or false"),
    ],
)
def test_bad_tune_settings_name_the_key(values, message) -> None:
    with pytest.raises(LampError, match=message):
        TuneSettings.from_dict({**PARAMS["tune"], **values})


@pytest.mark.skipif(importlib.util.find_spec("bitsandbytes") is not None, reason="bitsandbytes is installed")
def test_8bit_adam_without_bitsandbytes_is_a_clear_error() -> None:
    with pytest.raises(LampError, match="bitsandbytes is not installed"):
        from_params(TuneSettings, "tune", use_8bit_adam=True)


def test_model_settings() -> None:
    assert ModelSettings.from_dict(PARAMS["model"]) == ModelSettings(
        InflationConfig.paper(), DEFAULT_TRAINABLE_PATTERNS
    )
    settings = ModelSettings.from_dict({**PARAMS["model"], "group_norm": "frame", "trainable": ["*.gate.*"]})
    assert settings.inflation.group_norm == "frame" and settings.trainable_patterns == ("*.gate.*",)
    with pytest.raises(LampError, match=r"`model\.group_norm`: expected one of 'video', 'frame'"):
        ModelSettings.from_dict({**PARAMS["model"], "group_norm": "batch"})
    with pytest.raises(LampError, match=r"model\.trainable must be a list of glob patterns"):
        ModelSettings.from_dict({**PARAMS["model"], "trainable": "*.gate.*"})


def test_base_source_must_be_set() -> None:
    assert base_source({"base": {"model": "models/tiny-sd"}}) == "models/tiny-sd"
    with pytest.raises(LampError, match=r"`base\.model` is not set"):
        base_source({"base": {}})
