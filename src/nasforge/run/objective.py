"""`Objective`: which metric a search optimizes, and in which direction."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from nasforge.errors import ConfigError

Direction = Literal["max", "min"]


@dataclass(frozen=True)
class Objective:
    """One metric to maximize or minimize. Strategies see its score: higher is always better."""

    metric: str = "valid_acc"
    direction: Direction = "max"

    def __post_init__(self) -> None:
        if self.direction not in ("max", "min"):
            raise ConfigError(f"objective direction must be 'max' or 'min', not {self.direction!r}")
        if not self.metric:
            raise ConfigError("objective metric name is empty")

    def score(self, metrics: dict[str, float]) -> float | None:
        """The score of a result (None when the metric is missing or not finite)."""
        value = metrics.get(self.metric)
        if value is None or not math.isfinite(value):
            return None
        return value if self.direction == "max" else -value

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "direction": self.direction}

    @classmethod
    def parse(cls, text: str) -> Objective:
        """Read ``NAME:max`` or ``NAME:min`` (``NAME`` alone means max)."""
        metric, _, direction = text.partition(":")
        if direction not in ("", "max", "min"):
            raise ConfigError(f"objective {text!r} must read NAME:max or NAME:min")
        return cls(metric=metric.strip(), direction="min" if direction == "min" else "max")
