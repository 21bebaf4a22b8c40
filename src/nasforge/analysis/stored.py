"""Decision importance and explanations of an experiment in a store, as ``nasforge
importance --json`` and ``nasforge explain --json`` print them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nasforge.analysis.explain import explain
from nasforge.analysis.importance import decision_importance
from nasforge.run.scored_trials import trials_of
from nasforge.run.storage import Store


def stored_importance(
    journal: Store, name: str, *, metric: str | None = None, seed: int = 0
) -> dict[str, Any]:
    """`decision_importance` of experiment `name`'s trials (by `metric`, default: its
    objective), with the store and the experiment."""
    scored = trials_of(journal, name, metric)
    result = decision_importance(
        scored.space,
        scored.archs,
        scored.values,
        metric=scored.metric,
        direction=scored.direction,
        seed=seed,
    )
    return {"store": journal.path, "experiment": scored.experiment, **result.to_dict()}


def stored_explanation(
    journal: Store, name: str, arch: str | None, *, metric: str | None = None, seed: int = 0
) -> dict[str, Any]:
    """`explain` `arch` (its text; None: the best trial) against experiment `name`'s
    trials, with the store, the experiment and whether it is the winner."""
    scored = trials_of(journal, name, metric)
    target = scored.archs[scored.best()] if arch is None else scored.space.parse(arch)
    result = explain(
        scored.space,
        scored.archs,
        scored.values,
        target,
        numbers=[t.number for t in scored.trials],
        metric=scored.metric,
        direction=scored.direction,
        seed=seed,
    )
    return {
        "store": journal.path,
        "experiment": scored.experiment,
        "winner": arch is None,
        **result.to_dict(),
    }


@dataclass(frozen=True)
class StoredAnalysis:
    """An experiment in a store file (``name`` None: the only one there) to analyse by
    ``metric`` (None: its objective) with a model seeded by ``seed``."""

    store: Path = Path("nasforge.sqlite")
    name: str | None = None
    metric: str | None = None
    seed: int = 0

    def importance(self) -> dict[str, Any]:
        """`stored_importance` of the experiment."""
        with Store.existing(self.store) as journal:
            name = journal.pick_name(self.name)
            return stored_importance(journal, name, metric=self.metric, seed=self.seed)

    def explanation(self, arch: str | None) -> dict[str, Any]:
        """`stored_explanation` of `arch` (None: the best trial) in the experiment."""
        with Store.existing(self.store) as journal:
            name = journal.pick_name(self.name)
            return stored_explanation(journal, name, arch, metric=self.metric, seed=self.seed)
