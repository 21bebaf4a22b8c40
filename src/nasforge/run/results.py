"""`SearchResult`: the trials of an experiment, what they used, and the best of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nasforge.arch import Arch
from nasforge.evaluate.result import Status
from nasforge.run.budget import Usage
from nasforge.run.storage import TrialRecord
from nasforge.space.base import SearchSpace


@dataclass(frozen=True)
class SearchResult:
    name: str
    trials: list[TrialRecord]
    usage: Usage

    @classmethod
    def from_trials(cls, name: str, trials: list[TrialRecord], wall_seconds: float) -> SearchResult:
        return cls(name, trials, usage_of(trials, wall_seconds))

    @property
    def best(self) -> TrialRecord | None:
        """The evaluated trial with the highest score (the earliest one on ties)."""
        ranked = self.leaderboard(1)
        return ranked[0] if ranked else None

    @property
    def best_arch(self) -> Arch | None:
        best = self.best
        return None if best is None else Arch.parse(best.arch)

    def leaderboard(self, k: int = 10) -> list[TrialRecord]:
        scored = [
            t for t in self.trials if t.evaluated and t.status is Status.OK and t.score is not None
        ]
        scored.sort(key=lambda t: (-(t.score or 0.0), t.number))
        return scored[:k]

    def counts(self) -> dict[str, int]:
        counts = {status.value: 0 for status in Status}
        counts["duplicate"] = 0
        for trial in self.trials:
            counts["duplicate" if trial.duplicate_of is not None else trial.status.value] += 1
        return counts

    def to_dict(self, space: SearchSpace) -> dict[str, Any]:
        """The JSON form printed by the CLI: the best trial, counts and usage."""
        best = self.best
        return {
            "name": self.name,
            "best": None if best is None else trial_to_dict(best, space),
            "trials": self.usage.queries,
            "proposals": len(self.trials),
            "counts": self.counts(),
            "usage": {
                "queries": self.usage.queries,
                "simulated_seconds": round(self.usage.simulated_seconds, 3),
                "wall_seconds": round(self.usage.wall_seconds, 3),
            },
        }


def trial_to_dict(trial: TrialRecord, space: SearchSpace) -> dict[str, Any]:
    arch = Arch.parse(trial.arch)
    return {
        "number": trial.number,
        "arch": space.format(arch),
        "arch_text": trial.arch,
        "budget": trial.budget,
        "score": trial.score,
        "status": trial.status.value,
        "metrics": trial.metrics,
    }


def usage_of(trials: list[TrialRecord], wall_seconds: float) -> Usage:
    """Queries and simulated seconds charged by `trials` (reused duplicates cost nothing)."""
    evaluated = [t for t in trials if t.evaluated]
    return Usage(
        queries=len(evaluated),
        simulated_seconds=sum(t.cost for t in evaluated),
        wall_seconds=wall_seconds,
    )
