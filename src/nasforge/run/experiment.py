"""`Experiment`: the ask / evaluate / tell loop, journaled to a store so that it can resume.

Resuming is replay: the stored trials' asks and tells are fed, in the order they happened,
to a freshly made strategy with the same seed, which thereby reaches the state it had when
the run stopped. Finished trials are never evaluated again; a trial that was running when
the process died is evaluated now, under its stored number.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nasforge.arch import Arch
from nasforge.errors import ConfigError, NasforgeError, StoreError
from nasforge.evaluate.base import Evaluator
from nasforge.evaluate.result import Result, Status
from nasforge.run.budget import Budget, Usage
from nasforge.run.objective import Constraint, Objective
from nasforge.run.results import SearchResult, usage_of
from nasforge.run.storage import Store, TrialRecord
from nasforge.space.base import SearchSpace
from nasforge.strategy.base import Observation, Proposal, SearchExhausted, Strategy

TrialCallback = Callable[[TrialRecord, Usage], None]

MAX_CONSECUTIVE_DUPLICATES = 1000
"""Stop when a strategy proposes only already-evaluated archs this many times in a row."""


@dataclass(frozen=True)
class _CacheKey:
    arch: Arch
    budget: float | None


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
    ) -> None:
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

    def config(self) -> dict[str, Any]:
        """Everything needed to rebuild this experiment by name (stored with it)."""
        return {
            "space": {"name": self.space.name, "params": self.space.config()},
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
        }

    # -- the loop ------------------------------------------------------------------
    def run(self, on_trial: TrialCallback | None = None) -> SearchResult:
        """Run (or resume) until the budget is spent; return every trial and the best."""
        record = self._open_record()
        loop = _Loop(self, record.id, record.wall_seconds, on_trial)
        loop.replay(self.store.trials(record.id))
        loop.finish_interrupted()
        loop.search()
        return self.result()

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
            return self.store.create_experiment(self.name, config)
        if _identity(record.config) != _identity(config):
            raise StoreError(
                f"experiment {self.name!r} in {self.store.path} was made with other settings; "
                "resume it as it was or choose another name"
            )
        if record.config != config:
            self.store.update_config(record.id, config)
        return record


class _Loop:
    """The state of one run of an experiment: sequence numbers, usage, duplicate cache."""

    def __init__(
        self,
        experiment: Experiment,
        experiment_id: int,
        wall_before: float,
        on_trial: TrialCallback | None,
    ) -> None:
        self.x = experiment
        self.id = experiment_id
        self.on_trial = on_trial
        self.seq = experiment.store.next_seq(experiment_id)
        self.number = 0
        self.cache: dict[_CacheKey, TrialRecord] = {}
        self.trials: list[TrialRecord] = []
        self.wall_before = wall_before
        self.started = time.monotonic()
        self.wall_flushed = 0.0

    # -- resume ----------------------------------------------------------------------
    def replay(self, trials: list[TrialRecord]) -> None:
        events: list[tuple[int, bool, TrialRecord]] = [(t.created_seq, True, t) for t in trials]
        events += [(t.finished_seq, False, t) for t in trials if t.finished_seq is not None]
        for _, is_ask, trial in sorted(events, key=lambda event: event[0]):
            arch = Arch.parse(trial.arch)
            if is_ask:
                proposal = self._ask()
                if (
                    proposal is None
                    or proposal.arch != arch
                    or self._budget_of(proposal) != trial.budget
                ):
                    raise StoreError(
                        f"cannot resume {self.x.name!r}: the strategy now proposes something other "
                        f"than stored trial {trial.number}; was nasforge or its settings changed?"
                    )
            else:
                self._remember(trial, arch)
                self.x.strategy.tell(_observation(trial, arch))
        self.trials = list(trials)
        self.number = len(trials)

    def finish_interrupted(self) -> None:
        for trial in [t for t in self.trials if not t.finished]:
            self._evaluate_and_tell(trial, Arch.parse(trial.arch))

    # -- search ----------------------------------------------------------------------
    def search(self) -> None:
        duplicates_in_a_row = 0
        while not self.x.budget.exhausted(self.usage()):
            proposal = self._ask()
            if proposal is None:
                return
            trial = TrialRecord(
                number=self.number,
                arch=str(proposal.arch),
                budget=self._budget_of(proposal),
                status=Status.RUNNING,
                created_seq=self._next_seq(),
            )
            self.number += 1
            self.trials.append(trial)
            self.x.store.add_trial(
                self.id, trial.number, trial.arch, trial.budget, trial.created_seq
            )
            finished = self._evaluate_and_tell(trial, proposal.arch)
            duplicates_in_a_row = (
                duplicates_in_a_row + 1 if finished.duplicate_of is not None else 0
            )
            if duplicates_in_a_row >= MAX_CONSECUTIVE_DUPLICATES:
                return

    def _evaluate_and_tell(self, trial: TrialRecord, arch: Arch) -> TrialRecord:
        key = self._key(arch, trial.budget)
        earlier = self.cache.get(key) if self.x.deduplicate != "none" else None
        if earlier is not None:
            result, duplicate_of = earlier.result(), earlier.number
        else:
            result, duplicate_of = self._evaluate(arch, trial.budget), None
        score, scores, violation = self.x.judge(result)
        seq = self._next_seq()
        self.x.store.finish_trial(
            self.id, trial.number, result, score, seq, duplicate_of, scores, violation
        )
        finished = TrialRecord(
            number=trial.number,
            arch=trial.arch,
            budget=trial.budget,
            status=result.status,
            created_seq=trial.created_seq,
            metrics=dict(result.metrics),
            score=score,
            cost=result.cost,
            error=result.error,
            duplicate_of=duplicate_of,
            finished_seq=seq,
            info=dict(result.info),
            scores=scores,
            violation=violation,
        )
        self.trials[trial.number] = finished
        self._remember(finished, arch)
        self.x.strategy.tell(_observation(finished, arch))
        self._flush_wall()
        if self.on_trial is not None:
            self.on_trial(finished, self.usage())
        return finished

    def _evaluate(self, arch: Arch, budget: float | None) -> Result:
        try:
            return self.x.evaluator.evaluate(arch, budget)
        except NasforgeError as exc:
            return Result.failed(str(exc))
        except Exception as exc:  # a failed evaluation ends the trial, not the search
            return Result.failed(f"{type(exc).__name__}: {exc}")

    # -- helpers ---------------------------------------------------------------------
    def _ask(self) -> Proposal | None:
        try:
            return self.x.strategy.ask()
        except SearchExhausted:
            return None

    def _budget_of(self, proposal: Proposal) -> float | None:
        return proposal.budget if proposal.budget is not None else self.x.evaluator.default_budget

    def _key(self, arch: Arch, budget: float | None) -> _CacheKey:
        if self.x.deduplicate == "exact":
            return _CacheKey(arch, budget)
        return _CacheKey(self.x.space.canonical(arch), budget)

    def _remember(self, trial: TrialRecord, arch: Arch) -> None:
        if trial.evaluated:
            self.cache.setdefault(self._key(arch, trial.budget), trial)

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq - 1

    def _flush_wall(self) -> None:
        elapsed = time.monotonic() - self.started
        self.x.store.add_wall_seconds(self.id, elapsed - self.wall_flushed)
        self.wall_flushed = elapsed

    def usage(self) -> Usage:
        return usage_of(self.trials, self.wall_before + time.monotonic() - self.started)


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


def _dedup_mode(value: bool | str) -> str:
    """True = "canonical" (reuse results of the same function), "exact" (same arch only),
    False = "none" (evaluate every proposal)."""
    mode = (
        {True: "canonical", False: "none"}.get(value, value) if isinstance(value, bool) else value
    )
    if mode not in DEDUP_MODES:
        raise ConfigError(f"deduplicate must be one of {', '.join(DEDUP_MODES)}, not {value!r}")
    return str(mode)


def _observation(trial: TrialRecord, arch: Arch) -> Observation:
    return Observation(Proposal(arch, trial.budget), trial.score, trial.scores, trial.violation)


def multi_objective_strategies() -> list[str]:
    from nasforge.strategy import STRATEGIES

    return [name for name, cls in STRATEGIES.items() if cls.multi_objective]


def _identity(config: dict[str, Any]) -> dict[str, Any]:
    """The parts of a config that must not change between runs of one experiment."""
    evaluator = dict(config.get("evaluator", {}))
    params = {k: v for k, v in dict(evaluator.get("params", {})).items() if k != "path"}
    identity = {k: v for k, v in config.items() if k not in ("budget", "evaluator")}
    identity["evaluator"] = {"name": evaluator.get("name"), "params": params}
    return identity
