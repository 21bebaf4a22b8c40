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

The space is a fixture too, `conformance_space` (a `ConformanceSpace`: how to make the space
and the synthetic metrics of its archs); it is `NB201` unless a subclass overrides it, for
example with `CONDITIONAL`, a small define-by-run space whose decisions exist only under
others' choices (a kernel only for a conv op, ops only for blocks within the depth)::

    class TestMineOnConditional(StrategyConformance):
        @pytest.fixture
        def conformance_space(self) -> ConformanceSpace:
            return CONDITIONAL

There "proposals stay in the space" also means that no proposal holds an inactive decision.
"""

from __future__ import annotations

import functools
import multiprocessing
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from torch import nn

from nasforge.arch import Arch
from nasforge.evaluate.base import Evaluator
from nasforge.evaluate.result import Result
from nasforge.objective import Constraint, Objective
from nasforge.run.budget import Budget
from nasforge.run.experiment import Experiment
from nasforge.run.results import SearchResult
from nasforge.run.storage import Store
from nasforge.space.base import SearchSpace
from nasforge.space.choices.primitives import Choices
from nasforge.space.choices.space import ChoiceSpace
from nasforge.space.nb201.space import LABELS, NB201Space
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


Metrics = Callable[[Arch], dict[str, float]]
"""The synthetic metrics of an arch: ``score`` (to maximize) and ``convs`` (to limit)."""


def _jitter(arch: Arch) -> float:
    return zlib.crc32(str(arch).encode()) % 1000 / 10_000


def nb201_metrics(arch: Arch) -> dict[str, float]:
    """``score``: the 3x3 convolutions plus a jitter; ``convs``: the convolutions."""
    convs = sum(str(arch[label]).startswith("nor_conv") for label in LABELS)
    threes = sum(arch[label] == "nor_conv_3x3" for label in LABELS)
    return {"score": threes + _jitter(arch), "convs": float(convs)}


class _Block(nn.Module):
    def __init__(self, choices: Choices, i: int, width: int) -> None:
        super().__init__()

        def conv() -> nn.Module:  # its kernel is a decision only when the op is conv
            kernel = choices.choose_value(f"kernel_{i}", [1, 3, 5])
            return nn.Conv2d(width, width, kernel, padding=kernel // 2)

        candidates = {"conv": conv, "skip": nn.Identity, "relu": nn.ReLU}
        self.op = choices.choose_module(f"op_{i}", candidates)

    def forward(self, x: Any) -> Any:
        return self.op(x)


class ConditionalNet(nn.Module):
    """The conformance suite's conditional space: a width, a depth of 1-3 blocks, an op per
    block (a kernel only for ``conv``), a pooling (a pooling size only for ``max``);
    1,860 archs."""

    def __init__(self, choices: Choices, input_shape: tuple[int, ...] = (3, 8, 8)) -> None:
        super().__init__()
        width = choices.choose_value("width", [8, 16, 32])
        self.stem = nn.Conv2d(input_shape[0], width, 3, padding=1)
        self.blocks = choices.repeat("depth", [1, 2, 3], lambda i: _Block(choices, i, width))
        self.pool: nn.Module = nn.Identity()
        if choices.choose_value("pool", ["none", "max"]) == "max":
            self.pool = nn.MaxPool2d(choices.choose_value("pool_size", [2, 3, 4]))
        self.head = nn.LazyLinear(10)

    def forward(self, x: Any) -> Any:
        return self.head(self.pool(self.blocks(self.stem(x))).flatten(1))


@functools.cache
def conditional_space() -> ChoiceSpace:
    """The `ConditionalNet` space, one per process: its caches (the constructor's paths,
    validated archs, the size) then serve every run of the suite."""
    return ChoiceSpace(ConditionalNet)


def conditional_metrics(arch: Arch) -> dict[str, float]:
    """``score``: the 3x3 convolutions, and a bonus for wide nets and max pooling of 2,
    plus a jitter; ``convs``: the convolutions."""
    depth = int(arch["depth"])
    convs = sum(arch[f"op_{i}"] == "conv" for i in range(depth))
    threes = sum(arch.get(f"kernel_{i}") == 3 for i in range(depth))
    bonus = 0.5 * (arch["width"] == 32) + 0.5 * (arch.get("pool_size") == 2)
    return {"score": threes + bonus + _jitter(arch), "convs": float(convs)}


@dataclass(frozen=True)
class ConformanceSpace:
    """A space the suite runs on: ``make()`` builds it, ``metrics`` scores its archs.

    Module-level functions, so that a spawned process can rebuild it."""

    name: str
    make: Callable[[], SearchSpace]
    metrics: Metrics

    def __str__(self) -> str:
        return self.name


NB201 = ConformanceSpace("nb201", NB201Space, nb201_metrics)
CONDITIONAL = ConformanceSpace("conditional", conditional_space, conditional_metrics)


class SyntheticEvaluator(Evaluator):
    """Deterministic metrics from the arch alone: `score` to maximize, `convs` to limit
    (`nb201_metrics` unless given other ``metrics``)."""

    name = "synthetic"
    default_metric = "score"

    def __init__(self, metrics: Metrics = nb201_metrics) -> None:
        self.metrics = metrics
        self.calls: list[tuple[Arch, float | None]] = []

    def metric_names(self) -> frozenset[str]:
        return frozenset({"score", "convs"})

    def evaluate(self, arch: Arch, budget: float | None = None) -> Result:
        self.calls.append((arch, budget))
        return Result(self.metrics(arch), cost=1.0)


def run(
    spec: StrategySpec,
    seed: int,
    *,
    trials: int = TRIALS,
    store: Store | None = None,
    deduplicate: bool | str = True,
    constraints: tuple[Constraint, ...] = (),
    evaluator: Evaluator | None = None,
    on: ConformanceSpace = NB201,
) -> SearchResult:
    space = on.make()
    return Experiment(
        space,
        make_strategy(spec.name, space, seed=seed, **spec.options),
        evaluator or SyntheticEvaluator(on.metrics),
        budget=Budget(queries=trials),
        objective=Objective("score"),
        constraints=constraints,
        store=store,
        name="conformance",
        deduplicate=deduplicate,
    ).run()


def ask_ahead(
    strategy: Strategy,
    *,
    trials: int = TRIALS,
    workers: int = WORKERS,
    metrics: Metrics = nb201_metrics,
) -> list[Event]:
    """Ask until `workers` proposals are pending, then tell them all, newest first; repeat
    until `trials` asks. Every seventh result is a failure. `WaitForResults` tells early;
    raised with nothing pending, it is an error."""
    evaluator = SyntheticEvaluator(metrics)
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


def trial_archs(spec: StrategySpec, seed: int, on: ConformanceSpace = NB201) -> list[str]:
    """Module level, so that a spawned process can run it."""
    return [t.arch for t in run(spec, seed, on=on).trials]


class StrategyConformance:
    """The tests; a subclass provides the `strategy_spec` fixture, and may override
    `conformance_space`."""

    @pytest.fixture
    def conformance_space(self) -> ConformanceSpace:
        """The space the tests run on: NB201 unless a subclass overrides this fixture."""
        return NB201

    def test_proposals_stay_in_the_space(
        self, strategy_spec: StrategySpec, conformance_space: ConformanceSpace
    ) -> None:
        space = conformance_space.make()
        result = run(strategy_spec, 1, on=conformance_space)
        assert result.usage.queries == TRIALS
        for trial in result.trials:
            arch = Arch.parse(trial.arch)
            assert space.validate(arch) == arch  # no inactive decision, no active one missing

    def test_same_seed_same_trials(
        self, strategy_spec: StrategySpec, conformance_space: ConformanceSpace
    ) -> None:
        first = trial_archs(strategy_spec, 3, conformance_space)
        assert first == trial_archs(strategy_spec, 3, conformance_space)

    def test_other_seed_other_trials(
        self, strategy_spec: StrategySpec, conformance_space: ConformanceSpace
    ) -> None:
        first = trial_archs(strategy_spec, 3, conformance_space)
        same = first == trial_archs(strategy_spec, 4, conformance_space)
        assert same == strategy_spec.seed_independent

    def test_same_trials_in_a_spawned_process(
        self, strategy_spec: StrategySpec, conformance_space: ConformanceSpace
    ) -> None:
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            spawned = pool.apply(trial_archs, (strategy_spec, 5, conformance_space))
        assert spawned == trial_archs(strategy_spec, 5, conformance_space)

    def test_state_survives_resume(
        self, strategy_spec: StrategySpec, conformance_space: ConformanceSpace
    ) -> None:
        store = Store(":memory:")
        run(strategy_spec, 6, trials=TRIALS // 2, store=store, on=conformance_space)
        resumed = run(strategy_spec, 6, trials=TRIALS, store=store, on=conformance_space)
        straight = run(strategy_spec, 6, trials=TRIALS, on=conformance_space)
        assert [t.arch for t in resumed.trials] == [t.arch for t in straight.trials]

    def test_duplicates_are_not_evaluated_again(
        self, strategy_spec: StrategySpec, conformance_space: ConformanceSpace
    ) -> None:
        evaluator = SyntheticEvaluator(conformance_space.metrics)
        result = run(
            strategy_spec, 7, deduplicate="exact", evaluator=evaluator, on=conformance_space
        )
        assert len(evaluator.calls) == len(set(evaluator.calls)) == TRIALS
        repeats = [t for t in result.trials if t.duplicate_of is not None]
        assert all((Arch.parse(t.arch), t.budget) in evaluator.calls for t in repeats)
        asked = SyntheticEvaluator(conformance_space.metrics)
        run(strategy_spec, 7, deduplicate="none", evaluator=asked, on=conformance_space)
        assert len(asked.calls) == TRIALS

    def test_constraints_are_respected(
        self, strategy_spec: StrategySpec, conformance_space: ConformanceSpace
    ) -> None:
        limit = Constraint("convs", "<=", 2)
        result = run(strategy_spec, 8, constraints=(limit,), on=conformance_space)
        best = result.best
        if best is None:
            pytest.fail("no feasible trial in 40: the constraint leaves most of the space")
        assert best.metrics["convs"] <= 2 and best.violation == 0
        feasible = [
            t for t in result.trials if t.evaluated and t.violation == 0 and t.score is not None
        ]
        budgets = {t.budget for t in feasible if t.budget is not None}
        if len(budgets) > 1:  # multi-fidelity: only the largest budget competes for best
            feasible = [t for t in feasible if t.budget == max(budgets)]
        assert best.score == max(t.score for t in feasible if t.score is not None)

    def test_asks_ahead_of_tells_in_reverse_order(
        self, strategy_spec: StrategySpec, conformance_space: ConformanceSpace
    ) -> None:
        space = conformance_space.make()
        strategy = make_strategy(strategy_spec.name, space, seed=9, **strategy_spec.options)
        events = ask_ahead(strategy, metrics=conformance_space.metrics)
        asks = [proposal for proposal, observation in events if observation is None]
        assert len(asks) == TRIALS
        for proposal in asks:
            assert space.validate(proposal.arch) == proposal.arch
            assert proposal.budget is None or proposal.budget > 0
        told = [proposal for proposal, observation in events if observation is not None]
        assert sorted(map(str, told)) == sorted(map(str, asks))

    def test_replay_of_asks_ahead_proposes_the_same(
        self, strategy_spec: StrategySpec, conformance_space: ConformanceSpace
    ) -> None:
        space = conformance_space.make()
        events = ask_ahead(
            make_strategy(strategy_spec.name, space, seed=10, **strategy_spec.options),
            metrics=conformance_space.metrics,
        )
        fresh = make_strategy(strategy_spec.name, space, seed=10, **strategy_spec.options)
        assert replay(fresh, events) == [p for p, observation in events if observation is None]
