"""`Experiment`: a space, a strategy, an evaluator, a budget and objectives, in a store.

`run()` opens (or reopens) its record in the store and hands the work to a `TrialLoop`
(`run/loop.py`): ask, submit to the executor, tell, journal; resume is replay.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from nasforge.errors import ConfigError, StoreError
from nasforge.evaluate.base import Evaluator
from nasforge.evaluate.result import Result
from nasforge.objective import Constraint, Objective
from nasforge.run.budget import Budget
from nasforge.run.executor import Executor, InlineExecutor
from nasforge.run.loop import (
    MAX_CONSECUTIVE_DUPLICATES,
    POLL_SECONDS,
    TrialCallback,
    TrialLoop,
)
from nasforge.run.results import SearchResult
from nasforge.run.signals import SearchInterrupted, stop_signals
from nasforge.run.storage import ExperimentExists, Store
from nasforge.space.base import SearchSpace
from nasforge.space.stored import space_config, space_identity
from nasforge.status import Status
from nasforge.strategy.base import Strategy

__all__ = ["MAX_CONSECUTIVE_DUPLICATES", "Experiment", "TrialCallback", "check_objectives"]


class Experiment:
    """One search: a space, a strategy, an evaluator, a budget and an objective, in a store."""

    def __init__(
        self,
        space: SearchSpace,
        strategy: Strategy,
        evaluator: Evaluator,
        *,
        budget: Budget,
        objective: Objective | Sequence[Objective] | None = None,
        constraints: Sequence[Constraint] = (),
        store: Store | None = None,
        name: str = "experiment",
        deduplicate: bool | str = True,
        executor: Executor | None = None,
        settings: dict[str, Any] | None = None,
        ordered: bool = True,
    ) -> None:
        """`settings`: how the caller (the CLI's search) handles the experiment besides
        running it (final retraining epochs, output folder, workers...): stored in the config
        under "settings" so that a resume does the same; they may change between runs."""
        if not name.strip():
            raise ConfigError("experiment name is empty")
        objectives = check_objectives(strategy, evaluator, objective, constraints)
        strategy.configure_objectives(len(objectives))
        self.space = space
        self.strategy = strategy
        self.evaluator = evaluator
        self.budget = budget
        self.objectives = objectives
        self.objective = objectives[0]
        self.constraints = tuple(constraints)
        self.store = store or Store(":memory:")
        self.name = name
        self.deduplicate = _dedup_mode(deduplicate)
        self.executor = executor or InlineExecutor()
        self._space_record: dict[str, Any] | None = None
        self.settings = dict(settings or {})
        self.ordered = ordered
        """Tell results in trial order, so that a seed repeats its trials with any number of
        workers (`run/loop.py`); False tells each as it arrives (faster, timing-dependent)."""

    def config(self) -> dict[str, Any]:
        """Everything needed to rebuild this experiment by name (stored with it)."""
        return {
            "space": self._space_config(),
            "strategy": {
                "name": self.strategy.name,
                "seed": self.strategy.seed,
                "params": self.strategy.config(),
            },
            "evaluator": {"name": self.evaluator.name, "params": self.evaluator.config()},
            "objectives": [objective.to_dict() for objective in self.objectives],
            "constraints": [constraint.to_dict() for constraint in self.constraints],
            "budget": self.budget.to_dict(),
            "deduplicate": self.deduplicate,
            **({"settings": dict(self.settings)} if self.settings else {}),
            "ordered": self.ordered,
        }

    def _space_config(self) -> dict[str, Any]:
        """The space's name and options; for a user's space also its description, so that
        reading the store never imports the space's code (`nasforge.space.stored`)."""
        if self._space_record is None:
            self._space_record = space_config(self.space)
        return self._space_record

    # -- the loop ------------------------------------------------------------------
    def run(self, on_trial: TrialCallback | None = None) -> SearchResult:
        """Run (or resume) until the budget is spent; return every trial and the best.

        In the main thread, SIGINT and SIGTERM stop it cleanly (`run/signals.py`): running
        trials are cancelled and left for `resume`, and `SearchInterrupted` is raised."""
        record = self._open_record()
        run_id = self.store.start_run(record.id)
        try:
            others = self._others_running(record.id, run_id)
            loop = TrialLoop(
                self,
                record.id,
                record.wall_seconds,
                self.executor,
                on_trial,
                run_id=run_id,
                shared=bool(others),
            )
            trials = self.store.trials(record.id)
            if self.store.is_shared(record.id):
                loop.catch_up(trials, others)
            else:
                loop.replay(trials)
            with stop_signals() as stop:
                self.executor.start(self.evaluator)
                stop.install()  # again: a Ray driver sets a SIGTERM handler when it starts
                try:
                    loop.search(stop)
                    stop.check()
                except SearchInterrupted as exc:
                    raise SearchInterrupted(exc.signum, str(self.store.path), self.name) from None
                finally:
                    stop.hurry = self.executor.kill
                    self.executor.close()
        finally:
            self.store.end_run(run_id)
        return self.result()

    def others_running(self) -> bool:
        """True while other processes run this experiment too."""
        record = self.store.get_experiment(self.name)
        return record is not None and bool(self.store.live_runs(record.id))

    def _others_running(self, experiment_id: int, run_id: int) -> set[int]:
        """The runs of other processes on this experiment. If there are any, wait until
        they have switched to shared mode (each looks every `JOIN_CHECK_SECONDS` between
        evaluations), so that their trial numbers and ours never collide."""
        while True:
            others = {run.id for run in self.store.live_runs(experiment_id, other_than=run_id)}
            if not others or self.store.is_shared(experiment_id):
                return others
            time.sleep(POLL_SECONDS)

    def best_score(self) -> float | None:
        """The best score of the experiment's stored trials (of every run), None before any."""
        record = self.store.get_experiment(self.name)
        if record is None:
            return None
        scores = [t.score for t in self.store.trials(record.id) if t.score is not None]
        return max(scores) if scores else None

    def record_final(self, final: dict[str, Any]) -> None:
        """Store what retraining the winner measured (see `Store.record_final`)."""
        self.store.record_final(self.store.experiment(self.name).id, final)

    def result(self) -> SearchResult:
        record = self.store.experiment(self.name)
        return SearchResult.from_trials(
            self.name, self.store.trials(record.id), record.wall_seconds, self.objectives
        )

    def judge(self, result: Result) -> tuple[float | None, tuple[float, ...] | None, float]:
        """(score, scores, violation) of a result: higher scores are better; a failed result
        has none; a result that breaks a constraint keeps its scores but has no score."""
        if result.status is not Status.OK:
            return None, None, 0.0
        values = [objective.score(result.metrics) for objective in self.objectives]
        if any(value is None for value in values):
            return None, None, 0.0
        scores = tuple(float(value) for value in values if value is not None)
        violation = sum(constraint.violation(result.metrics) for constraint in self.constraints)
        return (scores[0] if violation == 0 else None), scores, violation

    def _open_record(self) -> Any:
        config = self.config()
        record = self.store.get_experiment(self.name)
        if record is None:
            try:
                return self.store.create_experiment(self.name, config)
            except ExperimentExists:  # made by a process that we join
                record = self.store.experiment(self.name)
        if _identity(record.config) != _identity(config):
            raise StoreError(
                f"experiment {self.name!r} in {self.store.path} was made with other settings; "
                "resume it as it was or choose another name"
            )
        # The retrained winner, and the settings when this run gives none, stay as stored.
        kept = {k: v for k, v in record.config.items() if k in (*RECORDED_AFTER_RUN, "settings")}
        config = {**kept, **config}
        if record.config != config:
            self.store.update_config(record.id, config)
        return record


def check_objectives(
    strategy: Strategy,
    evaluator: Evaluator,
    objective: Objective | Sequence[Objective] | None,
    constraints: Sequence[Constraint] = (),
) -> tuple[Objective, ...]:
    """The objectives as a tuple, after checking that the evaluator reports their metrics and
    the strategy can handle their number; raises ConfigError naming the problem."""
    if objective is None:
        objective = Objective(evaluator.default_metric)
    objectives = (objective,) if isinstance(objective, Objective) else tuple(objective)
    if not objectives:
        raise ConfigError("an experiment needs at least one objective")
    if len(objectives) > 1 and not strategy.multi_objective:
        raise ConfigError(
            f"strategy {strategy.name!r} optimizes one objective, not {len(objectives)}; "
            f"use one of: {', '.join(multi_objective_strategies())}"
        )
    known = evaluator.metric_names()
    named = [("objective", o.metric) for o in objectives]
    named += [("constraint", c.metric) for c in constraints]
    for kind, metric in named:
        if known is not None and metric not in known:
            raise ConfigError(
                f"unknown {kind} metric {metric!r}; {evaluator.name} reports: "
                f"{', '.join(sorted(known))}"
            )
    return objectives


DEDUP_MODES = ("canonical", "exact", "none")
RECORDED_AFTER_RUN = ("final",)
"""Config entries written after a search (the retrained winner): a later run keeps them."""
CHANGEABLE = ("budget", "evaluator", "settings", *RECORDED_AFTER_RUN)
"""Config entries a later run may change (the evaluator only in its table's path)."""


def _dedup_mode(value: bool | str) -> str:
    """True = "canonical" (reuse results of the same function), "exact" (same arch only),
    False = "none" (evaluate every proposal)."""
    mode = (
        {True: "canonical", False: "none"}.get(value, value) if isinstance(value, bool) else value
    )
    if mode not in DEDUP_MODES:
        raise ConfigError(f"deduplicate must be one of {', '.join(DEDUP_MODES)}, not {value!r}")
    return str(mode)


def multi_objective_strategies() -> list[str]:
    from nasforge.strategy import STRATEGIES

    return [name for name, cls in STRATEGIES.items() if cls.multi_objective]


def _identity(config: dict[str, Any]) -> dict[str, Any]:
    """The parts of a config that must not change between runs of one experiment: a user's
    space counts by its class and options, not by where its file is (a resumed run may name
    the file where it is now), and its training by what it trains, not where (a search
    stored on a GPU may resume on a CPU: ``resume --device``)."""
    evaluator = dict(config.get("evaluator", {}))
    params = {k: v for k, v in dict(evaluator.get("params", {})).items() if k != "path"}
    if isinstance(params.get("train"), dict):
        params["train"] = {
            k: v for k, v in params["train"].items() if k not in ("device", "precision")
        }
    identity = {k: v for k, v in config.items() if k not in (*CHANGEABLE, "space", "ordered")}
    identity["evaluator"] = {"name": evaluator.get("name"), "params": params}
    identity["space"] = space_identity(dict(config.get("space", {})))
    return identity
