"""The strategy conformance suite: every strategy, present and future, passes the same tests.

Use it from a pytest module: subclass `StrategyConformance` and give a `strategy_spec`
fixture (a registered strategy name and its options)::

    @pytest.fixture(params=[StrategySpec("evolution"), StrategySpec("mine", {"k": 3})])
    def strategy_spec(request):
        return request.param

    class TestMyStrategies(StrategyConformance):
        pass

The tests drive each strategy through a real `Experiment` on the NB201 space with a
synthetic evaluator (no benchmark file or training needed): proposals stay in the space;
the same seed gives the same trials, also in a freshly spawned process; a run stopped
half-way and resumed from its store equals one that never stopped; duplicates are not
evaluated again unless asked; and the best trial respects the constraints.

Two tests drive the strategy directly, as parallel workers do (`ask_ahead`): several asks
before the tells, which then arrive newest first. The proposals must stay valid, and a fresh
strategy fed the same asks and tells must propose the same archs (resume replays them).
"""

from __future__ import annotations

import multiprocessing
import zlib
from dataclasses import dataclass, field
from typing import Any

import pytest

from nasforge.arch import Arch
from nasforge.evaluate.base import Evaluator
from nasforge.evaluate.result import Result
from nasforge.run.budget import Budget
from nasforge.run.experiment import Experiment
from nasforge.run.objective import Constraint, Objective
from nasforge.run.results import SearchResult
from nasforge.run.storage import Store
from nasforge.space.nb201 import LABELS, NB201Space
from nasforge.strategy import Observation, Proposal, SearchExhausted, Strategy, make_strategy
from nasforge.strategy.base import WaitForResults

TRIALS = 40
WORKERS = 4
"""How many proposals `ask_ahead` keeps pending at most."""

Event = tuple[Proposal, Observation | None]
"""An ask (the proposal, None) or a tell (the proposal, its observation)."""


@dataclass(frozen=True)
class StrategySpec:
    """A registered strategy name and its options: what a conformance fixture provides."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)
    seed_independent: bool = False

    def __str__(self) -> str:
        extra = ",".join(f"{k}={v}" for k, v in self.options.items())
        return f"{self.name}({extra})" if extra else self.name


class SyntheticEvaluator(Evaluator):
    """Deterministic metrics from the arch alone: `score` to maximize, `convs` to limit."""

    name = "synthetic"
    default_metric = "score"

    def __init__(self) -> None:
        self.calls: list[tuple[Arch, float | None]] = []

    def metric_names(self) -> frozenset[str]:
        return frozenset({"score", "convs"})

    def evaluate(self, arch: Arch, budget: float | None = None) -> Result:
        self.calls.append((arch, budget))
        convs = sum(str(arch[label]).startswith("nor_conv") for label in LABELS)
        threes = sum(arch[label] == "nor_conv_3x3" for label in LABELS)
        jitter = zlib.crc32(str(arch).encode()) % 1000 / 10_000
        return Result({"score": threes + jitter, "convs": float(convs)}, cost=1.0)


def run(
    spec: StrategySpec,
    seed: int,
    *,
    trials: int = TRIALS,
    store: Store | None = None,
    deduplicate: bool | str = True,
    constraints: tuple[Constraint, ...] = (),
    evaluator: Evaluator | None = None,
) -> SearchResult:
    space = NB201Space()
    return Experiment(
        space,
        make_strategy(spec.name, space, seed=seed, **spec.options),
        evaluator or SyntheticEvaluator(),
        budget=Budget(queries=trials),
        objective=Objective("score"),
        constraints=constraints,
        store=store,
        name="conformance",
        deduplicate=deduplicate,
    ).run()


def ask_ahead(strategy: Strategy, *, trials: int = TRIALS, workers: int = WORKERS) -> list[Event]:
    """Ask until `workers` proposals are pending, then tell them all, newest first; repeat
    until `trials` asks. Every seventh result is a failure. `WaitForResults` tells early;
    raised with nothing pending, it is an error."""
    evaluator = SyntheticEvaluator()
    strategy.configure_objectives(1)
    events: list[Event] = []
    pending: list[Proposal] = []
    asked = 0
    while asked < trials or pending:
        while asked < trials and len(pending) < workers:
            try:
                proposal = strategy.ask()
            except WaitForResults:
                if not pending:
                    raise AssertionError("WaitForResults with nothing pending") from None
                break
            except SearchExhausted:
                asked = trials
                break
            asked += 1
            pending.append(proposal)
            events.append((proposal, None))
        while pending:
            proposal = pending.pop()
            told = sum(1 for _, observation in events if observation is not None)
            score = evaluator.evaluate(proposal.arch, proposal.budget).metrics["score"]
            value = None if told % 7 == 3 else score
            observation = Observation(proposal, value, None if value is None else (value,))
            strategy.tell(observation)
            events.append((proposal, observation))
    return events


def replay(strategy: Strategy, events: list[Event]) -> list[Proposal]:
    """Feed `events` to `strategy` (asks and tells in their order); return its proposals."""
    strategy.configure_objectives(1)
    proposals = []
    for _, observation in events:
        if observation is None:
            proposals.append(strategy.ask())
        else:
            strategy.tell(observation)
    return proposals


def trial_archs(spec: StrategySpec, seed: int) -> list[str]:
    """Module level, so that a spawned process can run it."""
    return [t.arch for t in run(spec, seed).trials]


class StrategyConformance:
    """The tests; a subclass provides the `strategy_spec` fixture."""

    def test_proposals_stay_in_the_space(self, strategy_spec: StrategySpec) -> None:
        space = NB201Space()
        result = run(strategy_spec, 1)
        assert result.usage.queries == TRIALS
        for trial in result.trials:
            arch = Arch.parse(trial.arch)
            assert space.validate(arch) == arch

    def test_same_seed_same_trials(self, strategy_spec: StrategySpec) -> None:
        assert trial_archs(strategy_spec, 3) == trial_archs(strategy_spec, 3)

    def test_other_seed_other_trials(self, strategy_spec: StrategySpec) -> None:
        same = trial_archs(strategy_spec, 3) == trial_archs(strategy_spec, 4)
        assert same == strategy_spec.seed_independent

    def test_same_trials_in_a_spawned_process(self, strategy_spec: StrategySpec) -> None:
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            spawned = pool.apply(trial_archs, (strategy_spec, 5))
        assert spawned == trial_archs(strategy_spec, 5)

    def test_state_survives_resume(self, strategy_spec: StrategySpec) -> None:
        store = Store(":memory:")
        run(strategy_spec, 6, trials=TRIALS // 2, store=store)
        resumed = run(strategy_spec, 6, trials=TRIALS, store=store)
        straight = run(strategy_spec, 6, trials=TRIALS)
        assert [t.arch for t in resumed.trials] == [t.arch for t in straight.trials]

    def test_duplicates_are_not_evaluated_again(self, strategy_spec: StrategySpec) -> None:
        evaluator = SyntheticEvaluator()
        result = run(strategy_spec, 7, deduplicate="exact", evaluator=evaluator)
        assert len(evaluator.calls) == len(set(evaluator.calls)) == TRIALS
        repeats = [t for t in result.trials if t.duplicate_of is not None]
        assert all((Arch.parse(t.arch), t.budget) in evaluator.calls for t in repeats)
        asked = SyntheticEvaluator()
        run(strategy_spec, 7, deduplicate="none", evaluator=asked)
        assert len(asked.calls) == TRIALS

    def test_constraints_are_respected(self, strategy_spec: StrategySpec) -> None:
        limit = Constraint("convs", "<=", 2)
        result = run(strategy_spec, 8, constraints=(limit,))
        best = result.best
        if best is None:
            pytest.fail("no feasible trial in 40: the constraint leaves most of the space")
        assert best.metrics["convs"] <= 2 and best.violation == 0
        feasible = [t for t in result.trials if t.evaluated and t.violation == 0]
        assert best.score == max(t.score for t in feasible if t.score is not None)

    def test_asks_ahead_of_tells_in_reverse_order(self, strategy_spec: StrategySpec) -> None:
        space = NB201Space()
        strategy = make_strategy(strategy_spec.name, space, seed=9, **strategy_spec.options)
        events = ask_ahead(strategy)
        asks = [proposal for proposal, observation in events if observation is None]
        assert len(asks) == TRIALS
        for proposal in asks:
            assert space.validate(proposal.arch) == proposal.arch
            assert proposal.budget is None or proposal.budget > 0
        told = [proposal for proposal, observation in events if observation is not None]
        assert sorted(map(str, told)) == sorted(map(str, asks))

    def test_replay_of_asks_ahead_proposes_the_same(self, strategy_spec: StrategySpec) -> None:
        space = NB201Space()
        events = ask_ahead(
            make_strategy(strategy_spec.name, space, seed=10, **strategy_spec.options)
        )
        fresh = make_strategy(strategy_spec.name, space, seed=10, **strategy_spec.options)
        assert replay(fresh, events) == [p for p, observation in events if observation is None]
