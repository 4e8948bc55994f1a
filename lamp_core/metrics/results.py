"""The shape of metric results: plain JSON-ready dicts, with `None` and a reason for what cannot be measured.

A result maps each metric name to a float, or to `None` when the metric is unavailable; in that case the
reserved key `"unavailable"` maps the metric's name to a human-readable reason::

    {"alignment": None, "consistency": None, "diversity": None,
     "unavailable": {"alignment": "no CLIP weights configured", ...}}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

UNAVAILABLE_KEY = "unavailable"

MetricResults = dict[str, Any]
"""Metric name -> float or None, plus the optional `"unavailable"` name -> reason map."""


def unavailable(names: Iterable[str], reason: str) -> MetricResults:
    """A result in which every metric in `names` is `None` for the same `reason`."""
    names = list(names)
    return {**dict.fromkeys(names), UNAVAILABLE_KEY: dict.fromkeys(names, reason)}


def merge_results(*parts: Mapping[str, Any]) -> MetricResults:
    """Combine several results into one, merging their `"unavailable"` reasons."""
    merged: MetricResults = {}
    reasons: dict[str, str] = {}
    for part in parts:
        reasons.update(part.get(UNAVAILABLE_KEY, {}))
        merged.update({key: value for key, value in part.items() if key != UNAVAILABLE_KEY})
    if reasons:
        merged[UNAVAILABLE_KEY] = reasons
    return merged
