"""`explain`: why an architecture scores what it does, decision by decision.

From the same forest and decomposition as `decision_importance`: the architecture's
predicted metric is the space's average prediction, plus one contribution per decision (the
marginal effect of its choice), plus what interactions add. Beside the model, the evidence:
the evaluated architectures that differ from it in exactly one decision, with their
measured metric.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from nasforge.analysis.importance import fit_and_decompose, unreliable_fit
from nasforge.arch import Arch, Choice
from nasforge.space.base import SearchSpace


@dataclass(frozen=True)
class Contribution:
    label: str
    choice: Choice | None
    """None where the decision is inactive in the architecture (it then contributes 0)."""
    contribution: float
    sd: float


@dataclass(frozen=True)
class Neighbour:
    label: str
    """The one decision in which this evaluated architecture differs."""
    choice: Choice | None
    arch: str
    measured: float
    trial: int


@dataclass(frozen=True)
class Explanation:
    arch: str
    metric: str
    direction: str
    measured: float | None
    """The architecture's own measured metric, if it was evaluated."""
    predicted: float
    average: float
    """The forest's average prediction over the space."""
    contributions: tuple[Contribution, ...]
    """Largest (absolute) first."""
    interactions: float
    """predicted - average - sum of contributions."""
    neighbours: tuple[Neighbour, ...]
    trials: int
    fit_r2: float | None
    """Out-of-bag R² of the forest (see `Importance.fit_r2`)."""
    fit_rank: float | None
    """Out-of-bag rank correlation of the forest (see `Importance.fit_rank`)."""
    warning: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def explain(
    space: SearchSpace,
    archs: Sequence[Arch],
    values: Sequence[float] | np.ndarray,
    arch: Arch,
    *,
    numbers: Sequence[int] | None = None,
    metric: str = "metric",
    direction: str = "max",
    seed: int = 0,
    trees: int = 100,
) -> Explanation:
    """Explain `arch` from the trials (`archs`, `values`; `numbers` are their trial numbers)."""
    arch = space.validate(arch)
    model, rows, decomposition = fit_and_decompose(
        space, archs, values, metric=metric, seed=seed, trees=trees
    )
    values_ = np.asarray(values, dtype=np.float64)
    numbers_ = list(numbers) if numbers is not None else list(range(len(archs)))
    target = model.rows([arch])[0]
    contributions = []
    for j, decision in enumerate(space.decisions):
        k = int(target[j])
        effects = decomposition.main[j]
        contributions.append(
            Contribution(
                label=decision.label,
                choice=None if k < 0 else decision.choices[k],
                contribution=0.0 if k < 0 else float(effects[0, k]),
                sd=0.0 if k < 0 else float(effects[1:, k].std()),
            )
        )
    predicted = float(model.predict(target[None, :])[0])
    same = np.flatnonzero(np.all(rows == target, axis=1))
    neighbours = []
    for i in np.flatnonzero(np.sum(rows != target, axis=1) == 1):
        j = int(np.flatnonzero(rows[i] != target)[0])
        k = int(rows[i, j])
        neighbours.append(
            Neighbour(
                label=space.decisions[j].label,
                choice=None if k < 0 else space.decisions[j].choices[k],
                arch=space.format(archs[int(i)]),
                measured=float(values_[i]),
                trial=int(numbers_[i]),
            )
        )
    sign = -1.0 if direction == "min" else 1.0
    neighbours.sort(key=lambda n: -sign * n.measured)
    return Explanation(
        arch=space.format(arch),
        metric=metric,
        direction=direction,
        measured=float(values_[same].mean()) if len(same) else None,
        predicted=predicted,
        average=decomposition.mean,
        contributions=tuple(sorted(contributions, key=lambda c: -abs(c.contribution))),
        interactions=predicted - decomposition.mean - sum(c.contribution for c in contributions),
        neighbours=tuple(neighbours),
        trials=len(archs),
        fit_r2=model.oob_r2_,
        fit_rank=model.oob_rank_,
        warning=unreliable_fit(model.oob_rank_),
    )
