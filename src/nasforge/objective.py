"""`Objective` and `Constraint`: which metrics a search optimizes, in which direction, and
the hard limits a result must keep."""

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


_OPERATORS = ("<=", ">=")


@dataclass(frozen=True)
class Constraint:
    """A hard limit on one metric, ``metric <= bound`` or ``metric >= bound``."""

    metric: str
    operator: Literal["<=", ">="]
    bound: float

    def __post_init__(self) -> None:
        if self.operator not in _OPERATORS:
            raise ConfigError(f"constraint operator must be <= or >=, not {self.operator!r}")
        if not self.metric or not math.isfinite(self.bound):
            raise ConfigError(f"constraint {self} needs a metric name and a finite bound")

    def __str__(self) -> str:
        return f"{self.metric}{self.operator}{self.bound:g}"

    def violation(self, metrics: dict[str, float]) -> float:
        """How far `metrics` are outside the limit: 0 when satisfied, inf when unmeasured."""
        value = metrics.get(self.metric)
        if value is None or not math.isfinite(value):
            return math.inf
        excess = value - self.bound if self.operator == "<=" else self.bound - value
        return max(0.0, excess)

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "operator": self.operator, "bound": self.bound}

    @classmethod
    def parse(cls, text: str) -> Constraint:
        """Read ``NAME<=VALUE`` or ``NAME>=VALUE``."""
        for operator in _OPERATORS:
            metric, sep, bound = text.partition(operator)
            if sep:
                try:
                    value = float(bound)
                except ValueError:
                    break
                if metric.strip():
                    return cls(metric.strip(), operator, value)  # type: ignore[arg-type]
                break
        raise ConfigError(f"constraint {text!r} must read NAME<=VALUE or NAME>=VALUE")
