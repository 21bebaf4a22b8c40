"""A search as ``nasforge search`` asks for it: every setting as one typed value with the
command's defaults, checked and turned into an `Experiment` the same way from the command
line and from Python.

`plan_search` checks the settings and builds the space, the evaluator and the strategy
(loading the task); `SearchPlan.warm_start` evaluates a zero-cost proxy's favourites first
(``--warm-start``); `SearchPlan.experiment` names the experiment in a store and creates it,
with the `Finish` that retrains its winner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nasforge.errors import ConfigError

if TYPE_CHECKING:
    from nasforge.data.task_options import TaskOptions
    from nasforge.evaluate.base import Evaluator
    from nasforge.objective import Constraint, Objective
    from nasforge.run.budget import Budget
    from nasforge.run.experiment import Experiment
    from nasforge.run.new_experiment import ExecutorSettings
    from nasforge.run.search_finish import Finish
    from nasforge.run.search_setup import EvaluatorChoice
    from nasforge.run.storage import Store
    from nasforge.space.base import SearchSpace
    from nasforge.strategy.base import Strategy

Notes = Callable[[str], None]


@dataclass
class SearchRequest:
    """The settings of a search; the ``nasforge search`` option of each is its name with
    dashes (``space_params``: ``-s KEY=VALUE``, ``hyperparameters``: ``--hp``,
    ``strategy_options``: ``-o``)."""

    space: str | None = None
    space_params: dict[str, Any] = field(default_factory=dict)
    hyperparameters: dict[str, list[Any]] = field(default_factory=dict)
    strategy: str = "evolution"
    strategy_options: dict[str, Any] = field(default_factory=dict)
    budget: int | None = None
    epochs: int = 10
    final_epochs: int = 30
    time_limit: float | None = 120.0
    lr: float = 0.05
    batch_size: int = 64
    augment: bool | None = None
    threads: int | None = None
    device: str = "auto"
    precision: str = "auto"
    out: Path | None = None
    benchmark: Path | None = None
    evaluator: str = "auto"
    dataset: str = "cifar10"
    fidelity: int | None = None
    simulated_seconds: float | None = None
    wall_seconds: float | None = None
    epochs_budget: float | None = None
    seed: int = 0
    objective: list[str] | None = None
    constraint: list[str] | None = None
    store: Path = Path("nasforge.sqlite")
    name: str | None = None
    top: int = 10
    onnx: bool = False
    warm_start: list[str] | None = None
    latency_table: Path | None = None
    warm_start_from: str | None = None
    warm_start_sample: int = 1000
    warm_start_top: int = 10
    workers: int | None = None
    executor: str = "local"
    ray_address: str | None = None
    gpus_per_trial: float = 0.0
    table: Path | None = None
    decisions: str | None = None
    report: str | None = None
    cost_column: str | None = None
    benchmark_dir: Path | None = None
    ensemble: int = 1
    ensemble_selection: str = "top"
    final_data: str | None = None
    unordered: bool = False


@dataclass
class SearchPlan:
    """A checked request with its parts, before any trial runs."""

    request: SearchRequest
    choice: EvaluatorChoice
    running: ExecutorSettings
    budget: Budget
    space: SearchSpace
    evaluator: Evaluator
    objectives: list[Objective] | None
    constraints: list[Constraint]
    options: dict[str, Any]
    strategy: Strategy

    def warm_start(
        self,
        on_progress: Callable[[int, int], None] = lambda done, total: None,
        on_line: Notes = lambda line: None,
    ) -> None:
        """With ``warm_start`` proxies: score a random sample and let the strategy evaluate
        the best first (`nasforge.run.warm_starts.proxy_warm_started`)."""
        from nasforge.run.warm_starts import proxy_warm_started

        r = self.request
        if r.warm_start:
            self.strategy = proxy_warm_started(
                r.strategy,
                self.options,
                self.space,
                self.evaluator,
                r.warm_start,
                sample=r.warm_start_sample,
                top=r.warm_start_top,
                seed=r.seed,
                on_progress=on_progress,
                on_note=on_line,
            )

    def experiment(
        self, journal: Store, on_line: Notes = lambda line: None
    ) -> tuple[Experiment, Finish]:
        """The experiment in `journal` (named, or SPACE-STRATEGY-seedN), and its `Finish`."""
        from nasforge.run.new_experiment import experiment_name, new_experiment
        from nasforge.run.search_finish import Finish
        from nasforge.run.settings import search_settings

        r = self.request
        named = experiment_name(
            journal,
            r.name,
            space=self.space,
            strategy=r.strategy,
            seed=r.seed,
            evaluator=self.evaluator,
            on_note=on_line,
        )
        winner_folder = r.out or Path("models") / named
        finish = Finish(
            r.final_epochs,
            winner_folder,
            r.onnx,
            r.ensemble,
            r.ensemble_selection,
            r.final_data,
        )
        experiment = new_experiment(
            journal,
            named,
            self.space,
            self.strategy,
            self.evaluator,
            budget=self.budget,
            objective=self.objectives,
            constraints=self.constraints,
            executor=self.running,
            settings=search_settings(finish, self.running, top=r.top),
            ordered=not r.unordered,
        )
        return experiment, finish


def plan_search(
    r: SearchRequest,
    task: TaskOptions,
    *,
    on_note: Notes = lambda line: None,
    on_line: Notes = lambda line: None,
) -> SearchPlan:
    """Check `r` and build its space, evaluator (on `task`) and strategy; `on_note` hears
    notes on the task and the space, `on_line` what a transfer (``warm_start_from``) did."""
    from nasforge.device import ray_gpu_settings, resolve_settings
    from nasforge.objective import Constraint, Objective
    from nasforge.run.budget import Budget
    from nasforge.run.experiment import check_objectives
    from nasforge.run.new_experiment import ExecutorSettings
    from nasforge.run.search_finish import resolve_final_data
    from nasforge.run.search_setup import (
        EvaluatorChoice,
        TableSettings,
        TrainingSettings,
        check_search_ensemble,
        scheduler_options,
        search_parts,
    )
    from nasforge.run.warm_starts import transferred
    from nasforge.strategy import make_strategy

    settings_of = ray_gpu_settings if r.gpus_per_trial > 0 else resolve_settings
    device, precision = settings_of(r.device, r.precision)
    choice = EvaluatorChoice(r.evaluator, r.benchmark, r.table)
    running = ExecutorSettings(r.executor, r.workers, r.threads, r.ray_address, r.gpus_per_trial)
    running.check()
    limits = Budget(
        queries=choice.default_budget() if r.budget is None else r.budget,
        simulated_seconds=r.simulated_seconds,
        wall_seconds=r.wall_seconds,
        epochs=r.epochs_budget,
    )
    goals = [Objective.parse(text) for text in r.objective] if r.objective else None
    check_search_ensemble(
        r.ensemble,
        r.ensemble_selection,
        trains=not choice.looks_up,
        final_epochs=r.final_epochs,
        queries=limits.queries,
        objectives=len(goals or ()),
    )
    resolve_final_data(r.final_data, r.ensemble, r.ensemble_selection)
    constraints = [Constraint.parse(text) for text in r.constraint or []]
    training = TrainingSettings(
        r.epochs, r.lr, r.batch_size, r.augment, r.threads, r.time_limit, r.seed, device, precision
    )
    training.latency_table, training.constraints = r.latency_table, constraints
    space, evaluator, goals = search_parts(
        choice,
        task=task,
        space=r.space,
        space_params=r.space_params,
        hyperparameters=r.hyperparameters,
        goals=goals,
        training=training,
        tables=TableSettings(r.decisions, r.report, r.cost_column, r.benchmark_dir),
        dataset=r.dataset,
        fidelity=r.fidelity,
        on_note=on_note,
    )
    if not choice.looks_up and r.final_epochs < 0:
        raise ConfigError(f"--final-epochs must be >= 0, not {r.final_epochs}")
    options = scheduler_options(r.strategy, r.strategy_options, choice, r.epochs)
    chosen = make_strategy(r.strategy, space, seed=r.seed, **options)
    check_objectives(chosen, evaluator, goals, constraints)
    if r.warm_start and r.warm_start_from:
        raise ConfigError("choose --warm-start (a zero-cost proxy) or --warm-start-from, not both")
    if r.warm_start_from:
        chosen = transferred(
            r.warm_start_from,
            r.strategy,
            options,
            space,
            top=r.warm_start_top,
            seed=r.seed,
            on_note=on_line,
        )
    return SearchPlan(
        r, choice, running, limits, space, evaluator, goals, constraints, options, chosen
    )
