"""`SearchResult`: the trials of an experiment, what they used, and the best of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from nasforge.arch import Arch
from nasforge.objective import Objective
from nasforge.pareto import hypervolume, pareto_front
from nasforge.run.budget import Usage
from nasforge.run.storage import TrialRecord
from nasforge.space.base import SearchSpace
from nasforge.status import Status


@dataclass(frozen=True)
class SearchResult:
    name: str
    trials: list[TrialRecord]
    usage: Usage
    objectives: tuple[Objective, ...] = field(default=(Objective(),))

    @classmethod
    def from_trials(
        cls,
        name: str,
        trials: list[TrialRecord],
        wall_seconds: float,
        objectives: Sequence[Objective] = (Objective(),),
    ) -> SearchResult:
        return cls(name, trials, usage_of(trials, wall_seconds), tuple(objectives))

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    def pareto_front(self) -> list[TrialRecord]:
        """The feasible evaluated trials no other one dominates, best first objective first."""
        candidates = [
            t
            for t in self.trials
            if t.evaluated and t.status is Status.OK and t.scores is not None and t.violation == 0
        ]
        front = [candidates[i] for i in pareto_front([t.scores or () for t in candidates])]
        return sorted(front, key=lambda t: (-(t.scores or (0.0,))[0], t.number))

    def hypervolume(self, reference: Sequence[float]) -> float:
        """Hypervolume of the front in score space (maximized; `reference` in scores too)."""
        return hypervolume([t.scores or () for t in self.pareto_front()], reference)

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
        """The top `k` scored trials. When trials ran at different budgets (multi-fidelity),
        only those at the largest budget compete: scores at other fidelities differ in scale."""
        scored = [
            t for t in self.trials if t.evaluated and t.status is Status.OK and t.score is not None
        ]
        budgets = {t.budget for t in scored if t.budget is not None}
        if len(budgets) > 1:
            scored = [t for t in scored if t.budget == max(budgets)]
        scored.sort(key=lambda t: (-(t.score or 0.0), t.number))
        return scored[:k]

    def distinct_ranked(self, space: SearchSpace) -> list[Arch]:
        """The archs of the whole `leaderboard`, best first, each network once
        (`space.canonical`: the first, best-scored trial of an arch stands for it)."""
        seen: set[Arch] = set()
        ranked: list[Arch] = []
        for trial in self.leaderboard(len(self.trials)):
            arch = Arch.parse(trial.arch)
            key = space.canonical(arch)
            if key not in seen:
                seen.add(key)
                ranked.append(arch)
        return ranked

    def counts(self) -> dict[str, int]:
        counts = {status.value: 0 for status in Status}
        counts["duplicate"] = 0
        for trial in self.trials:
            counts["duplicate" if trial.duplicate_of is not None else trial.status.value] += 1
        return counts

    def pareto_summary(self) -> dict[str, Any]:
        """Front size and hypervolume, with the reference point at the worst value of every
        objective among the successful trials (reported in metric units)."""
        scored = [t.scores for t in self.trials if t.evaluated and t.scores is not None]
        if not scored:
            return {"size": 0, "hypervolume": 0.0, "reference": None}
        reference = [min(s[k] for s in scored) for k in range(len(self.objectives))]
        return {
            "size": len(self.pareto_front()),
            "hypervolume": self.hypervolume(reference),
            "reference": {
                o.metric: (r if o.direction == "max" else -r)
                for o, r in zip(self.objectives, reference, strict=True)
            },
        }

    def to_dict(self, space: SearchSpace) -> dict[str, Any]:
        """The JSON form printed by the CLI: the best trial, counts and usage."""
        best: Any
        if self.multi_objective:
            best = [trial_to_dict(t, space) for t in self.pareto_front()]
        else:
            best = None if self.best is None else trial_to_dict(self.best, space)
        return {
            "name": self.name,
            "objectives": [f"{o.metric}:{o.direction}" for o in self.objectives],
            "best": best,
            **({"pareto": self.pareto_summary()} if self.multi_objective else {}),
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
        "choices": dict(arch),
        "budget": trial.budget,
        "score": trial.score,
        "status": trial.status.value,
        "metrics": trial.metrics,
    }


def usage_of(trials: list[TrialRecord], wall_seconds: float) -> Usage:
    """What `trials` charged (reused duplicates cost nothing)."""
    evaluated = [t for t in trials if t.evaluated]
    return Usage(
        queries=len(evaluated),
        simulated_seconds=sum(t.cost for t in evaluated),
        wall_seconds=wall_seconds,
        epochs=sum(epochs_charged(t) for t in evaluated),
    )


def epochs_charged(trial: TrialRecord) -> float:
    """The epochs one trial trained: its ``epochs`` metric less those it continued from."""
    trained = float(trial.metrics.get("epochs", 0.0))
    return max(0.0, trained - float(trial.info.get("continued_from", 0) or 0))
