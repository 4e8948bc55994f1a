"""Did a generated video move the way the motion was learned? Per-motion criteria from params.yaml.

A motion declares its expected motion under `evaluation.<name>.expected_motion` in params.yaml, as one of
the mappings below (defaults shown; see docs/EVALUATION.md for why). Speeds are relative to the frame:
a fraction of its mean side, (height + width) / 2, per frame, so that one criterion fits clips of any size.

- a direction, `{direction_deg: 0}` (0 = right, 90 = down, 180 = left, 270 = up), for objects or a camera
  moving one way: the mean flow of the moving pixels points within `tolerance_deg` (45) of that angle, their
  median speed is at least `min_speed` (0.005 of the frame per frame; optionally also at least
  `min_speed_px` px/frame, default 0), at least `min_moving_fraction` (0.01) of the pixels move (over all
  frame pairs), and at least `min_consistency` (0.6) of the frame pairs move within the tolerance on their
  own.
- a zoom, `{scale: zoom_in}` (or `zoom_out`), for a camera zooming about the frame centre: the mean scale
  rate of the per-pair similarity fit (`lamp_core.metrics.fit_global_motion`) is at least `min_rate`
  (0.01 per frame) in that sense, and at least `min_consistency` (0.5) of the frame pairs scale that way
  with a fit that explains at least `min_explained` (0.15) of the variation of their flow.
- a roll, `{roll: clockwise}` (or `counterclockwise`, on screen), for a camera turning about the frame
  centre: the same with the fit's roll rate, at least `min_rate_deg` (1) degree per frame, in at least
  `min_consistency` (0.75) of the frame pairs.
- a rotation, `{rotation: clockwise}` (or `counterclockwise`), for an object that revolves about a point
  (the `orbit` example): its direction of motion keeps turning the expected way, by `min_turn_deg` (4) to
  `max_turn_deg` (45) degrees per frame in the expected sense (see `flow.VideoMotion`), at least
  `min_consistency` (0.75) of its single turns go that way, and its median speed and moving fraction are
  at least `min_speed` (and `min_speed_px`) and `min_moving_fraction` as for a direction.

The fraction of videos that pass is reported as `learned_fraction`, for the tuned and the untuned model,
and for the motion's own reference clips as a check of the criterion itself.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from lamp_core.errors import LampError
from lamp_core.metrics.flow import VideoMotion, angular_difference

ROTATIONS = ("clockwise", "counterclockwise")
SCALES = ("zoom_in", "zoom_out")
MAX_RELATIVE_SPEED = 0.25
"""The largest `min_speed` accepted: 1/4 of the frame per frame (larger ones are px/frame by mistake)."""


def _speed_threshold(motion: VideoMotion, min_speed: float, min_speed_px: float) -> float:
    return max(min_speed * motion.side, min_speed_px)


def _speed_words(min_speed: float, min_speed_px: float) -> str:
    words = f"at {min_speed:.2%} of the frame per frame or faster"
    return words + (f" and at least {min_speed_px:g} px/frame" if min_speed_px > 0 else "")


@dataclass(frozen=True)
class DirectionCriterion:
    """Moves within `tolerance_deg` of `direction_deg`, fast enough, in most frame pairs (see the module)."""

    direction_deg: float
    tolerance_deg: float = 45.0
    min_speed: float = 0.005
    """Fraction of the frame's mean side per frame (median speed of the moving pixels)."""
    min_speed_px: float = 0.0
    """An absolute floor on the same speed, px/frame (0: none)."""
    min_consistency: float = 0.6
    """Fraction of all frame pairs whose own mean flow points within the tolerance."""
    min_moving_fraction: float = 0.01
    """Fraction of the (pixel, frame pair) samples that must move: a few stray pixels are no motion."""

    def accepts(self, motion: VideoMotion) -> bool:
        """Whether the measured motion passes."""
        summary = motion.summary
        if summary.direction_deg is None or summary.moving_fraction < self.min_moving_fraction:
            return False
        if summary.speed < _speed_threshold(motion, self.min_speed, self.min_speed_px):
            return False
        if angular_difference(summary.direction_deg, self.direction_deg) > self.tolerance_deg:
            return False
        return self.pair_agreement(motion) >= self.min_consistency

    def pair_agreement(self, motion: VideoMotion) -> float:
        """Fraction of the frame pairs of `motion` that move within the tolerance of the direction."""
        pairs = motion.pair_directions_deg
        agreeing = [
            angle is not None and angular_difference(angle, self.direction_deg) <= self.tolerance_deg
            for angle in pairs
        ]
        return sum(agreeing) / len(pairs) if pairs else 0.0

    def describe(self) -> str:
        """The criterion in words, for reports."""
        return (
            f"moves within {self.tolerance_deg:g}° of {self.direction_deg:g}° "
            f"({_direction_name(self.direction_deg)}) {_speed_words(self.min_speed, self.min_speed_px)}, "
            f"in at least {self.min_consistency:.0%} of its frame pairs"
        )


@dataclass(frozen=True)
class ScaleCriterion:
    """The camera zooms `scale`-wise (zoom_in: the content grows) by `min_rate` per frame or more."""

    scale: str
    min_rate: float = 0.01
    """Mean scale rate per frame in the expected sense (0.01: the content grows by 1% per frame)."""
    min_consistency: float = 0.5
    min_explained: float = 0.15

    def accepts(self, motion: VideoMotion) -> bool:
        """Whether the measured motion passes (see the module docstring)."""
        fit = motion.global_motion
        if fit is None:
            return False
        sense = 1.0 if self.scale == "zoom_in" else -1.0
        agreeing = fit.scale_fraction(sense, self.min_explained)
        return sense * fit.scale_rate >= self.min_rate and agreeing >= self.min_consistency

    def describe(self) -> str:
        """The criterion in words, for reports."""
        grows = "grows" if self.scale == "zoom_in" else "shrinks"
        return (
            f"the camera zooms {self.scale.removeprefix('zoom_')} about the frame centre: the content "
            f"{grows} by {self.min_rate:.1%} per frame or more, in at least {self.min_consistency:.0%} of "
            f"its frame pairs"
        )


@dataclass(frozen=True)
class RollCriterion:
    """The content turns `roll`-wise on screen about the frame centre by `min_rate_deg` per frame or more."""

    roll: str
    min_rate_deg: float = 1.0
    min_consistency: float = 0.75
    min_explained: float = 0.15

    def accepts(self, motion: VideoMotion) -> bool:
        """Whether the measured motion passes (see the module docstring)."""
        fit = motion.global_motion
        if fit is None:
            return False
        sense = 1.0 if self.roll == "clockwise" else -1.0
        agreeing = fit.roll_fraction(sense, self.min_explained)
        return sense * fit.roll_rate_deg >= self.min_rate_deg and agreeing >= self.min_consistency

    def describe(self) -> str:
        """The criterion in words, for reports."""
        return (
            f"the camera rolls: the content turns {self.roll} (on screen) about the frame centre by "
            f"{self.min_rate_deg:g}° per frame or more, in at least {self.min_consistency:.0%} of its "
            "frame pairs"
        )


@dataclass(frozen=True)
class RotationCriterion:
    """Its direction of motion turns `rotation`-wise by `min_turn_deg`..`max_turn_deg` degrees per frame."""

    rotation: str
    min_turn_deg: float = 4.0
    max_turn_deg: float = 45.0
    min_consistency: float = 0.75
    min_speed: float = 0.005
    min_speed_px: float = 0.0
    min_moving_fraction: float = 0.01

    def accepts(self, motion: VideoMotion) -> bool:
        """Whether the measured motion passes (see the module docstring)."""
        if motion.turn_rate_deg is None or motion.clockwise_fraction is None:
            return False
        if motion.summary.moving_fraction < self.min_moving_fraction:
            return False
        if motion.summary.speed < _speed_threshold(motion, self.min_speed, self.min_speed_px):
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
            f"{_speed_words(self.min_speed, self.min_speed_px)}"
        )


MotionCriterion = DirectionCriterion | ScaleCriterion | RollCriterion | RotationCriterion

_KINDS: dict[str, type[MotionCriterion]] = {
    "direction_deg": DirectionCriterion,
    "scale": ScaleCriterion,
    "roll": RollCriterion,
    "rotation": RotationCriterion,
}
_CHOICES = {"scale": SCALES, "roll": ROTATIONS, "rotation": ROTATIONS}


def _direction_name(angle_deg: float) -> str:
    names = ("right", "down-right", "down", "down-left", "left", "up-left", "up", "up-right")
    return names[round((angle_deg % 360.0) / 45.0) % 8]


def expected_motion_from_params(entry: Any, motion: str) -> MotionCriterion | None:
    """The criterion of `evaluation.<motion>.expected_motion` (None when the motion declares none).

    Raises LampError naming the key for an entry that is not exactly one kind (direction_deg, scale, roll,
    rotation), has unknown keys, or has values out of range.
    """
    if entry is None:
        return None
    where = f"params.yaml: evaluation.{motion}.expected_motion"
    if not isinstance(entry, dict):
        raise LampError(
            f"{where}: expected a mapping such as {{direction_deg: 0}}, {{scale: zoom_in}}, "
            f"{{roll: clockwise}} or {{rotation: clockwise}}"
        )
    kinds = [key for key in _KINDS if key in entry]
    if len(kinds) != 1:
        raise LampError(f"{where}: give exactly one of {', '.join(f'`{key}`' for key in _KINDS)}")
    kind_key = kinds[0]
    kind = _KINDS[kind_key]
    known = [f.name for f in fields(kind)]
    unknown = sorted(set(entry) - set(known))
    if unknown:
        raise LampError(f"{where}: unknown keys {', '.join(unknown)} (known: {', '.join(known)})")
    if kind_key in _CHOICES and entry[kind_key] not in _CHOICES[kind_key]:
        raise LampError(
            f"{where}: {kind_key} must be one of {', '.join(_CHOICES[kind_key])}, got {entry[kind_key]!r}"
        )
    try:
        values = {key: value if key in _CHOICES else float(value) for key, value in entry.items()}
    except (TypeError, ValueError) as exc:
        raise LampError(f"{where}: not a number ({exc})") from None
    criterion = kind(**values)
    _check_ranges(criterion, where)
    return criterion


def _check_ranges(criterion: MotionCriterion, where: str) -> None:
    def need(ok: bool, key: str, rule: str) -> None:
        if not ok:
            raise LampError(f"{where}: {key} must be {rule}, got {getattr(criterion, key):g}")

    names = {f.name for f in fields(criterion)}
    if "min_speed" in names:
        need(
            0 <= criterion.min_speed <= MAX_RELATIVE_SPEED,
            "min_speed",
            f"in [0, {MAX_RELATIVE_SPEED:g}] (a fraction of the frame per frame; px/frame: min_speed_px)",
        )
        need(criterion.min_speed_px >= 0, "min_speed_px", ">= 0")
    for key in ("min_consistency", "min_explained", "min_moving_fraction"):
        if key in names:
            need(0 <= getattr(criterion, key) <= 1, key, "in [0, 1]")
    if isinstance(criterion, DirectionCriterion):
        need(0 < criterion.tolerance_deg <= 180, "tolerance_deg", "in (0, 180]")
    elif isinstance(criterion, ScaleCriterion):
        need(0 <= criterion.min_rate < 1, "min_rate", "in [0, 1)")
    elif isinstance(criterion, RollCriterion):
        need(0 <= criterion.min_rate_deg < 180, "min_rate_deg", "in [0, 180)")
    elif not 0 <= criterion.min_turn_deg < criterion.max_turn_deg <= 180:
        raise LampError(
            f"{where}: need 0 <= min_turn_deg < max_turn_deg <= 180, got "
            f"{criterion.min_turn_deg:g} and {criterion.max_turn_deg:g}"
        )
