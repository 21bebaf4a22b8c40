"""`Budget`: when an experiment stops, in queries, epochs, simulated or wall-clock seconds."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from nasforge.errors import ConfigError


@dataclass(frozen=True)
class Usage:
    """What an experiment has spent so far."""

    queries: int = 0
    simulated_seconds: float = 0.0
    wall_seconds: float = 0.0
    epochs: float = 0.0
    """Training epochs charged: each evaluated trial's ``epochs`` metric, less the epochs it
    continued from (a promoted trial resumed from a checkpoint pays only for the new ones)."""


@dataclass(frozen=True)
class Budget:
    """Limits on queries (evaluations), simulated seconds (sum of costs), wall seconds and
    training epochs (the fair unit for comparing multi-fidelity schedulers with the rest).

    The experiment stops as soon as any given limit is reached. At least one is required.
    """

    queries: int | None = None
    simulated_seconds: float | None = None
    wall_seconds: float | None = None
    epochs: float | None = None

    def __post_init__(self) -> None:
        limits = asdict(self)
        if all(value is None for value in limits.values()):
            raise ConfigError("a budget needs queries, simulated_seconds, wall_seconds or epochs")
        for name, value in limits.items():
            if value is not None and (not math.isfinite(value) or value <= 0):
                raise ConfigError(f"budget {name} must be greater than 0, not {value}")
        if self.queries is not None and int(self.queries) != self.queries:
            raise ConfigError(f"budget queries must be a whole number, not {self.queries}")

    def exhausted(self, used: Usage) -> bool:
        return (
            (self.queries is not None and used.queries >= self.queries)
            or (
                self.simulated_seconds is not None
                and used.simulated_seconds >= self.simulated_seconds
            )
            or (self.wall_seconds is not None and used.wall_seconds >= self.wall_seconds)
            or (self.epochs is not None and used.epochs >= self.epochs)
        )

    def fraction(self, used: Usage) -> float:
        """How much of the tightest limit is spent, in [0, 1] (for progress bars)."""
        parts = [0.0]
        if self.queries is not None:
            parts.append(used.queries / self.queries)
        if self.simulated_seconds is not None:
            parts.append(used.simulated_seconds / self.simulated_seconds)
        if self.wall_seconds is not None:
            parts.append(used.wall_seconds / self.wall_seconds)
        if self.epochs is not None:
            parts.append(used.epochs / self.epochs)
        return min(1.0, max(parts))

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}
