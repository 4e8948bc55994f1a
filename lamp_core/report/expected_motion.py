"""Did a generated video move the way the motion was learned? Per-motion criteria from params.yaml.

A motion declares its expected motion under `evaluation.<name>.expected_motion` in params.yaml, as one of:

- a direction: `{direction_deg: 0}` (0 = right, 90 = down, 180 = left, 270 = up). A video passes when
  its mean flow over moving pixels points within `tolerance_deg` (45) of that angle and its median speed
  is at least `min_speed` (0.5 px/frame): exactly `lamp_core.metrics.moves_in_direction`.
- a rotation: `{rotation: clockwise}` (or `counterclockwise`), for an object that revolves about a point
  (the `orbit` example). A video passes when its direction of motion keeps turning the expected way:
  its turn rate (the mean change of direction between consecutive frame pairs, see `video_motion`) lies
  between `min_turn_deg` (4) and `max_turn_deg` (45) degrees per frame in the expected sense, at least
  `min_consistency` (0.75) of its single turns go that way, and its median speed is at least `min_speed`.
  A sliding object does not turn (about 0 degrees per frame); an orbit of one turn in 21-31 frames turns
  12-17 degrees per frame; flicker and unrelated blobs turn at random, often by more than 45 degrees.

The fraction of videos that pass is reported as `learned_fraction`, for the tuned and the untuned model,
and for the motion's own reference clips as a check of the criterion itself.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from lamp_core.metrics.motion_summary import angular_difference
from lamp_core.params import ParamsError
from lamp_core.report.video_motion import VideoMotion

ROTATIONS = ("clockwise", "counterclockwise")


@dataclass(frozen=True)
class DirectionCriterion:
    """Moves at `min_speed` px/frame or faster, within `tolerance_deg` of `direction_deg`."""

    direction_deg: float
    tolerance_deg: float = 45.0
    min_speed: float = 0.5

    def accepts(self, motion: VideoMotion) -> bool:
        """Whether the measured motion passes (the rule of `lamp_core.metrics.moves_in_direction`)."""
        summary = motion.summary
        if summary.direction_deg is None or summary.speed < self.min_speed:
            return False
        return angular_difference(summary.direction_deg, self.direction_deg) <= self.tolerance_deg

    def describe(self) -> str:
        """The criterion in words, for reports."""
        return (
            f"moves within {self.tolerance_deg:g}° of {self.direction_deg:g}° "
            f"({_direction_name(self.direction_deg)}) at {self.min_speed:g} px/frame or faster"
        )


@dataclass(frozen=True)
class RotationCriterion:
    """Its direction of motion turns `rotation`-wise by `min_turn_deg`..`max_turn_deg` degrees per frame."""

    rotation: str
    min_turn_deg: float = 4.0
    max_turn_deg: float = 45.0
    min_consistency: float = 0.75
    min_speed: float = 0.5

    def accepts(self, motion: VideoMotion) -> bool:
        """Whether the measured motion passes (see the module docstring)."""
        if motion.turn_rate_deg is None or motion.clockwise_fraction is None:
            return False
        if motion.summary.speed < self.min_speed:
            return False
        sense = 1.0 if self.rotation == "clockwise" else -1.0
        turn = sense * motion.turn_rate_deg
        consistency = motion.clockwise_fraction if sense > 0 else 1.0 - motion.clockwise_fraction
        return self.min_turn_deg <= turn <= self.max_turn_deg and consistency >= self.min_consistency

    def describe(self) -> str:
        """The criterion in words, for reports."""
        return (
            f"its direction of motion turns {self.rotation} (on screen) by {self.min_turn_deg:g}-"
            f"{self.max_turn_deg:g}° per frame, at least {self.min_consistency:.0%} of its turns that way, "
            f"at {self.min_speed:g} px/frame or faster"
        )


MotionCriterion = DirectionCriterion | RotationCriterion


def _direction_name(angle_deg: float) -> str:
    names = ("right", "down-right", "down", "down-left", "left", "up-left", "up", "up-right")
    return names[round((angle_deg % 360.0) / 45.0) % 8]


def expected_motion_from_params(entry: Any, motion: str) -> MotionCriterion | None:
    """The criterion of `evaluation.<motion>.expected_motion` (None when the motion declares none).

    Raises ParamsError naming the key for an entry that is neither a direction nor a rotation, has unknown
    keys, or has values out of range.
    """
    if entry is None:
        return None
    where = f"params.yaml: evaluation.{motion}.expected_motion"
    if not isinstance(entry, dict):
        raise ParamsError(
            f"{where}: expected a mapping such as {{direction_deg: 0}} or {{rotation: clockwise}}"
        )
    if ("direction_deg" in entry) == ("rotation" in entry):
        raise ParamsError(f"{where}: give exactly one of `direction_deg` or `rotation`")
    kind = DirectionCriterion if "direction_deg" in entry else RotationCriterion
    known = [f.name for f in fields(kind)]
    unknown = sorted(set(entry) - set(known))
    if unknown:
        raise ParamsError(f"{where}: unknown keys {', '.join(unknown)} (known: {', '.join(known)})")
    try:
        if kind is DirectionCriterion:
            criterion: MotionCriterion = DirectionCriterion(
                **{key: float(value) for key, value in entry.items()}
            )
        else:
            numbers = {key: float(value) for key, value in entry.items() if key != "rotation"}
            criterion = RotationCriterion(rotation=str(entry["rotation"]), **numbers)
    except (TypeError, ValueError) as exc:
        raise ParamsError(f"{where}: not a number ({exc})") from None
    _check_ranges(criterion, where)
    return criterion


def _check_ranges(criterion: MotionCriterion, where: str) -> None:
    if criterion.min_speed < 0:
        raise ParamsError(f"{where}: min_speed must be >= 0, got {criterion.min_speed:g}")
    if isinstance(criterion, DirectionCriterion):
        if not 0 < criterion.tolerance_deg <= 180:
            raise ParamsError(f"{where}: tolerance_deg must be in (0, 180], got {criterion.tolerance_deg:g}")
        return
    if criterion.rotation not in ROTATIONS:
        raise ParamsError(
            f"{where}: rotation must be one of {', '.join(ROTATIONS)}, got {criterion.rotation!r}"
        )
    if not 0 <= criterion.min_turn_deg < criterion.max_turn_deg <= 180:
        raise ParamsError(
            f"{where}: need 0 <= min_turn_deg < max_turn_deg <= 180, got "
            f"{criterion.min_turn_deg:g} and {criterion.max_turn_deg:g}"
        )
    if not 0 <= criterion.min_consistency <= 1:
        raise ParamsError(f"{where}: min_consistency must be in [0, 1], got {criterion.min_consistency:g}")
