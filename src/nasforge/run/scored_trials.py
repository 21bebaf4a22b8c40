"""`trials_of`: the architectures of a stored experiment and one metric of each (what a
warm start and the analyses read)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nasforge.arch import Arch
from nasforge.errors import ConfigError, StoreError
from nasforge.objective import Objective
from nasforge.run.spec import objectives_of
from nasforge.run.storage import Store, TrialRecord
from nasforge.space.base import SearchSpace
from nasforge.space.stored import read_space
from nasforge.status import Status


@dataclass(frozen=True)
class ScoredTrials:
    """The evaluated, successful trials of an experiment that measured `metric`."""

    experiment: str
    space: SearchSpace
    metric: str
    direction: str
    trials: tuple[TrialRecord, ...]
    archs: tuple[Arch, ...]
    values: np.ndarray

    def best(self) -> int:
        """Index of the best trial by the metric (direction aware; the earliest on ties)."""
        sign = -1.0 if self.direction == "min" else 1.0
        return int(np.argmax(sign * self.values))


def trials_of(store: Store, name: str, metric: str | None = None) -> ScoredTrials:
    """The trials of experiment `name` with `metric` (``NAME`` or ``NAME:min``; default: the
    experiment's first objective, with its direction). A reused result (a duplicate) counts
    once; when trials ran at several budgets, only those at the largest count."""
    record = store.experiment(name)
    try:
        space = read_space(record.config["space"])
        objectives = objectives_of(record.config)
    except (KeyError, TypeError) as exc:
        raise StoreError(
            f"experiment {name!r} has a config this nasforge cannot read: {exc}"
        ) from None
    objective = _objective(metric, objectives)
    finished = [
        t
        for t in store.trials(record.id)
        if t.evaluated
        and t.status is Status.OK
        and math.isfinite(t.metrics.get(objective.metric, math.nan))
    ]
    if not finished:
        if any(t.evaluated and t.status is Status.OK for t in store.trials(record.id)):
            known = sorted({m for t in store.trials(record.id) for m in t.metrics})
            raise ConfigError(
                f"no trial of experiment {name!r} measured {objective.metric!r}; "
                f"its metrics: {', '.join(known)}"
            )
        raise StoreError(f"experiment {name!r} has no finished trials yet")
    budgets = {t.budget for t in finished if t.budget is not None}
    if len(budgets) > 1:
        finished = [t for t in finished if t.budget == max(budgets)]
    return ScoredTrials(
        experiment=name,
        space=space,
        metric=objective.metric,
        direction=objective.direction,
        trials=tuple(finished),
        archs=tuple(space.validate(Arch.parse(t.arch)) for t in finished),
        values=np.array([t.metrics[objective.metric] for t in finished], dtype=np.float64),
    )


def _objective(metric: str | None, objectives: list[Objective]) -> Objective:
    if metric is None:
        return objectives[0]
    parsed = Objective.parse(metric)
    if ":" not in metric:
        for objective in objectives:
            if objective.metric == parsed.metric:
                return objective
    return parsed
