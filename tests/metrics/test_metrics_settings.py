"""The `metrics:` section of params.yaml."""

from pathlib import Path

import pytest

from lamp_core.errors import LampError
from lamp_core.metrics import FlowSettings, MetricsSettings
from lamp_core.params import load_params

REPO = Path(__file__).resolve().parents[2]


CLIP = {"clip_model": "ViT-B-32", "clip_pretrained": None}


def test_a_missing_section_names_its_keys_and_flow_keeps_the_measurement():
    with pytest.raises(LampError, match=r"missing key `metrics\.clip_model`, `metrics\.clip_pretrained`"):
        MetricsSettings.from_params({})
    settings = MetricsSettings.from_params({"metrics": CLIP})
    assert settings.clip_pretrained is None
    assert settings.flow == FlowSettings()


def test_the_repository_params_parse():
    settings = MetricsSettings.from_params(load_params(REPO / "params.yaml"))
    assert settings.clip_model
    assert settings.flow.min_magnitude < settings.flow.max_magnitude


def test_overrides_are_read():
    params = {"metrics": {"clip_model": "ViT-B-16", "clip_pretrained": "/w.pt", "flow": {"winsize": 9}}}
    settings = MetricsSettings.from_params(params)
    assert (settings.clip_model, settings.clip_pretrained, settings.flow.winsize) == ("ViT-B-16", "/w.pt", 9)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"clip_weights": "x"}, "unknown key `metrics.clip_weights`"),
        ({"flow": {"window": 9}}, "unknown key `metrics.flow.window`"),
        ({"flow": {"winsize": "big"}}, "metrics.flow"),
        ({"flow": {"min_magnitude": 10.0}}, "min_magnitude < max_magnitude"),
        (["x"], "must be a mapping"),
    ],
)
def test_bad_sections_name_the_key(section, message):
    with pytest.raises(LampError, match=message):
        MetricsSettings.from_params({"metrics": CLIP | section if isinstance(section, dict) else section})
