"""`Result`: what one evaluation of one architecture at one budget measured."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from nasforge.status import Status


@dataclass(frozen=True)
class Result:
    """Metrics of one evaluation, its cost in (real or simulated) seconds, and its status.

    `metrics` are numbers an objective can use; `info` holds anything else JSON can store
    (a learning curve, a checkpoint path).
    """

    metrics: dict[str, float] = field(default_factory=dict)
    cost: float = 0.0
    status: Status = Status.OK
    error: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not math.isfinite(self.cost) or self.cost < 0:
            raise ValueError(f"result cost must be a finite number >= 0, not {self.cost}")

    @classmethod
    def failed(cls, error: str, cost: float = 0.0, status: Status = Status.FAILED) -> Result:
        return cls(metrics={}, cost=cost, status=status, error=error)
