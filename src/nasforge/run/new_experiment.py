"""A new experiment in a store, named and given its executor, or joined while another
process runs it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nasforge.errors import StoreError
from nasforge.evaluate.base import Evaluator
from nasforge.objective import Constraint, Objective
from nasforge.run.budget import Budget
from nasforge.run.experiment import Experiment
from nasforge.run.storage import Store
from nasforge.space.base import SearchSpace
from nasforge.strategy.base import Strategy


@dataclass(frozen=True)
class ExecutorSettings:
    """Where and how many trials run at once (`nasforge.run.executor.make_executor`);
    ``workers`` None: one per core for trained candidates, else 1 (`default_workers`)."""

    executor: str = "local"
    workers: int | None = None
    threads: int | None = None
    ray_address: str | None = None
    gpus_per_trial: float = 0.0

    def check(self) -> None:
        """Refuse settings that do not go together (`check_executor`)."""
        from nasforge.run.executor import check_executor

        check_executor(self.executor, self.workers, self.ray_address, self.gpus_per_trial)

    def make(self, evaluator: Evaluator) -> Any:
        """The executor for trials of ``evaluator``."""
        from nasforge.run.executor import make_executor
        from nasforge.run.setup import default_workers, trial_gpus

        workers = self.workers
        if workers is None and self.executor == "local":
            workers = default_workers(evaluator)
        return make_executor(
            self.executor,
            workers=workers,
            threads_per_worker=self.threads,
            ray_address=self.ray_address,
            gpus=trial_gpus(evaluator),
            gpus_per_trial=self.gpus_per_trial,
        )


def fresh_name(journal: Store, base: str) -> str:
    """``base``, or ``base-2``, ``base-3``... the first the store does not hold yet."""
    candidate, counter = base, 2
    while journal.get_experiment(candidate) is not None:
        candidate, counter = f"{base}-{counter}", counter + 1
    return candidate


def experiment_name(
    journal: Store,
    name: str | None,
    *,
    space: SearchSpace,
    strategy: str,
    seed: int,
    evaluator: Evaluator,
    on_note: Callable[[str], None] = lambda line: None,
) -> str:
    """``name``, refused if a finished experiment holds it (joined if another process runs
    it), or a fresh SPACE-STRATEGY-seedN name."""
    from nasforge.run.spec import default_name

    if name is None:
        base = default_name(
            {
                "space": {"name": space.name},
                "strategy": {"name": strategy, "seed": seed},
                "evaluator": {"name": evaluator.name, "params": evaluator.config()},
            }
        )
        return fresh_name(journal, base)
    existing = journal.get_experiment(name)
    if existing is not None and not journal.live_runs(existing.id):
        raise StoreError(
            f"experiment {name!r} already exists in {journal.path}; "
            "continue it with 'nasforge resume' or pick another --name"
        )
    if existing is not None:
        on_note(f"joining experiment {name!r}, which another process is running")
    return name


def new_experiment(
    journal: Store,
    name: str,
    space: SearchSpace,
    strategy: Strategy,
    evaluator: Evaluator,
    *,
    budget: Budget,
    objective: list[Objective] | None,
    constraints: list[Constraint],
    executor: ExecutorSettings,
    settings: dict[str, Any],
    ordered: bool = True,
) -> Experiment:
    """The experiment ``name`` in ``journal`` with its executor and the stored settings
    that `nasforge resume` reuses."""
    return Experiment(
        space,
        strategy,
        evaluator,
        budget=budget,
        objective=objective,
        constraints=constraints,
        store=journal,
        name=name,
        executor=executor.make(evaluator),
        settings=settings,
        ordered=ordered,
    )
