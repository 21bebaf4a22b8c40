"""Successive halving, Hyperband and BOHB around samplers; checkpoint continuation in training."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable

import numpy as np
import pytest

from nasforge.arch import Arch
from nasforge.data.loaders import load_digits_task
from nasforge.errors import StrategyError
from nasforge.evaluate import NB201Benchmark, NB201Table
from nasforge.evaluate.training import TrainingEvaluator, _CheckpointTrainer
from nasforge.run.budget import Budget
from nasforge.run.experiment import Experiment
from nasforge.run.results import epochs_charged
from nasforge.run.storage import TrialRecord
from nasforge.space import make_space
from nasforge.space.nb201.space import LABELS, NB201Space
from nasforge.strategy.base import Observation, Proposal, Strategy
from nasforge.strategy.hyperband import BOHB, Hyperband, SuccessiveHalving, rung_budgets
from nasforge.training import TrainConfig, TrainReport

SAMPLERS = ("random", "evolution", "local", "tpe")


def score(arch: Arch, budget: float | None = None) -> float:
    """Synthetic: the number of 3x3 convs, a deterministic jitter, a little more per epoch."""
    jitter = zlib.crc32(str(arch).encode()) % 100_000 / 1_000_000
    conv = sum(arch[label] == "nor_conv_3x3" for label in LABELS)
    return conv + jitter + (budget or 0.0) / 1000


def drive(
    strategy: Strategy, steps: int, objective: Callable[[Arch, float | None], float | None] = score
) -> list[Proposal]:
    proposals = []
    for _ in range(steps):
        proposal = strategy.ask()
        proposals.append(proposal)
        value = objective(proposal.arch, proposal.budget)
        strategy.tell(Observation(proposal, value, None if value is None else (value,)))
    return proposals


# -- rungs -----------------------------------------------------------------------------------


def test_geometric_rungs() -> None:
    assert rung_budgets(1, 27, 3) == (1.0, 3.0, 9.0, 27.0)
    assert rung_budgets(1, 100, 3) == (1.0, 4.0, 11.0, 33.0, 100.0)  # r = R * eta**-s, rounded
    assert rung_budgets(12, 200, 3) == (22.0, 67.0, 200.0)  # 200/12 < 27
    assert rung_budgets(5, 5, 3) == (5.0,)


def test_explicit_rungs_and_errors() -> None:
    assert rung_budgets(budgets=(12, 200)) == (12.0, 200.0)
    assert rung_budgets(12, 200, budgets=[12, 200]) == (12.0, 200.0)
    with pytest.raises(StrategyError, match="strictly increasing"):
        rung_budgets(budgets=(200, 12))
    with pytest.raises(StrategyError, match="disagrees"):
        rung_budgets(1, 200, budgets=(12, 200))
    with pytest.raises(StrategyError, match="eta"):
        rung_budgets(1, 27, 1)
    with pytest.raises(StrategyError, match="min_budget"):
        rung_budgets(27, 1)


# -- successive halving and Hyperband, sequentially --------------------------------------------


def test_successive_halving_bracket_is_exactly_as_expected() -> None:
    space = NB201Space()
    sh = SuccessiveHalving(space, seed=0, min_budget=1, max_budget=9, eta=3)
    proposals = drive(sh, 13 + 9)
    assert [p.budget for p in proposals] == [1.0] * 9 + [3.0] * 3 + [9.0] + [1.0] * 9
    first = [p.arch for p in proposals[:9]]
    top3 = sorted(first, key=lambda a: -score(a, 1.0))[:3]
    assert [p.arch for p in proposals[9:12]] == top3  # promoted best first
    best = max(top3, key=lambda a: score(a, 3.0))
    assert proposals[12].arch == best
    # the sampler keeps its own stream: the next bracket's archs are new samples
    assert {p.arch for p in proposals[13:]}.isdisjoint(first)


def test_promotion_keeps_the_top_third_by_score() -> None:
    sh = SuccessiveHalving(NB201Space(), seed=2, budgets=(1, 2), eta=3)
    asked = [sh.ask() for _ in range(3)]
    values = {asked[0].arch: 5.0, asked[1].arch: 9.0, asked[2].arch: 1.0}
    for proposal in reversed(asked):  # tells in any order
        sh.tell(Observation(proposal, values[proposal.arch]))
    assert sh.ask() == Proposal(asked[1].arch, 2.0)


def test_failed_archs_are_never_promoted() -> None:
    sh = SuccessiveHalving(NB201Space(), seed=2, budgets=(1, 2), eta=3)
    asked = [sh.ask() for _ in range(3)]
    for proposal in asked:
        sh.tell(Observation(proposal, None))
    assert sh.ask().budget == 1.0  # nothing promoted: a new bracket


def test_hyperband_cycles_over_brackets_as_li_et_al() -> None:
    hb = Hyperband(NB201Space(), seed=0, min_budget=1, max_budget=9, eta=3)
    budgets = [p.budget for p in drive(hb, 2 * 22)]
    # s=2: 9 x 1, 3 x 3, 1 x 9; s=1: 5 x 3, 1 x 9; s=0: 3 x 9; then again
    cycle = [1.0] * 9 + [3.0] * 3 + [9.0] + [3.0] * 5 + [9.0] + [9.0] * 3
    assert budgets == cycle * 2


@pytest.mark.parametrize("cls", [SuccessiveHalving, Hyperband])
@pytest.mark.parametrize("sampler", SAMPLERS)
def test_works_with_every_base_sampler(cls: type[SuccessiveHalving], sampler: str) -> None:
    space = NB201Space()
    strategy = cls(space, seed=1, sampler=sampler, min_budget=1, max_budget=9)

    def flaky(arch: Arch, budget: float | None) -> float | None:
        return None if zlib.crc32(str(arch).encode()) % 5 == 0 else score(arch, budget)

    proposals = drive(strategy, 60, flaky)
    assert all(space.validate(p.arch) == p.arch for p in proposals)
    assert {p.budget for p in proposals} <= {1.0, 3.0, 9.0}
    assert 9.0 in {p.budget for p in proposals}
    assert len({p.arch for p in proposals}) > 10


def test_unknown_or_nested_sampler_is_an_error() -> None:
    with pytest.raises(StrategyError, match="unknown strategy"):
        Hyperband(NB201Space(), sampler="nope")


# -- asks ahead of tells, determinism, replay ---------------------------------------------------


def test_asks_ahead_of_tells_open_new_brackets() -> None:
    sh = SuccessiveHalving(NB201Space(), seed=0, min_budget=1, max_budget=9)
    first = [sh.ask() for _ in range(20)]  # 9 per bracket: a third bracket is open
    assert all(p.budget == 1.0 for p in first)
    assert len(sh.brackets_) == 3
    for proposal in first[:9]:  # the first bracket's rung is complete
        sh.tell(Observation(proposal, score(proposal.arch)))
    promoted = sh.ask()
    assert promoted.budget == 3.0
    assert promoted.arch == max((p.arch for p in first[:9]), key=score)


def events(strategy: Strategy, seed: int) -> list[tuple[str, Proposal, float | None]]:
    """An irregular ask/tell sequence, as parallel workers produce it."""
    rng = np.random.default_rng(seed)
    log: list[tuple[str, Proposal, float | None]] = []
    waiting: list[Proposal] = []
    for _ in range(120):
        if waiting and rng.random() < 0.45:
            proposal = waiting.pop(int(rng.integers(len(waiting))))
            value = score(proposal.arch, proposal.budget)
            strategy.tell(Observation(proposal, value, (value,)))
            log.append(("tell", proposal, value))
        else:
            proposal = strategy.ask()
            waiting.append(proposal)
            log.append(("ask", proposal, None))
    return log


def make(name: str, seed: int) -> Strategy:
    space = NB201Space()
    if name == "bohb":
        return BOHB(space, seed=seed, min_budget=1, max_budget=9)
    cls, sampler = {"sh": (SuccessiveHalving, "evolution"), "hyperband": (Hyperband, "tpe")}[name]
    return cls(space, seed=seed, sampler=sampler, min_budget=1, max_budget=9)


@pytest.mark.parametrize("name", ["sh", "hyperband", "bohb"])
def test_same_seed_same_proposals_and_replay_resumes(name: str) -> None:
    original = make(name, 7)
    log = events(original, 0)
    assert log == events(make(name, 7), 0)
    assert [e[1] for e in log] != [e[1] for e in events(make(name, 8), 0)]
    replayed = make(name, 7)
    for kind, proposal, value in log:
        if kind == "ask":
            assert replayed.ask() == proposal
        else:
            replayed.tell(Observation(proposal, value, None if value is None else (value,)))
    assert [replayed.ask() for _ in range(5)] == [original.ask() for _ in range(5)]


@pytest.mark.parametrize("name", ["sh", "hyperband", "bohb"])
def test_config_round_trips_through_json(name: str) -> None:
    strategy = make(name, 3)
    strategy = type(strategy)(NB201Space(), seed=3, **{**strategy.config(), "budgets": (1, 3, 9)})
    strategy = type(strategy)(NB201Space(), seed=3, **strategy.config())
    config = json.loads(json.dumps(strategy.config()))
    assert config["budgets"] == [1, 3, 9]
    rebuilt = type(strategy)(NB201Space(), seed=3, **config)
    assert rebuilt.config() == strategy.config()
    assert drive(rebuilt, 30) == drive(strategy, 30)


def test_defaults_work_without_budgets() -> None:
    for cls in (SuccessiveHalving, Hyperband, BOHB):
        assert {p.budget for p in drive(cls(NB201Space()), 50)} <= {1.0, 3.0, 9.0, 27.0}


# -- BOHB --------------------------------------------------------------------------------------


def test_bohb_models_the_highest_budget_with_enough_results() -> None:
    bohb = BOHB(NB201Space(), seed=0, budgets=(1, 3), eta=3)
    sampler = bohb.sampler_
    drive(bohb, 200)
    model = sampler._model()  # type: ignore[attr-defined]
    assert model is not None
    good, _ = model
    conv3 = NB201Space().decisions[0].index("nor_conv_3x3")
    assert max(int(np.sum(point == conv3)) for point in good) >= 5
    late = drive(bohb, 60)
    random = drive(Hyperband(NB201Space(), seed=0, budgets=(1, 3), eta=3), 260)[-60:]
    assert np.mean([score(p.arch) for p in late]) > np.mean([score(p.arch) for p in random]) + 1


# -- experiments -----------------------------------------------------------------------------


def test_hyperband_on_nb201_runs_to_its_budget_and_its_best_is_at_200(
    nb201_table: NB201Table,
) -> None:
    strategy = Hyperband(NB201Space(), seed=0, sampler="random", budgets=(12, 200))
    result = Experiment(
        NB201Space(), strategy, NB201Benchmark(nb201_table), budget=Budget(queries=60)
    ).run()
    assert result.usage.queries == 60
    assert {t.budget for t in result.trials} == {12.0, 200.0}
    assert result.best is not None and result.best.budget == 200.0


# -- checkpoint continuation -----------------------------------------------------------------


def test_training_continues_from_the_checkpoint_of_a_smaller_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    space = make_space("mlp", max_layers=1)
    task = load_digits_task()
    reports: list[TrainReport] = []
    fit = _CheckpointTrainer.fit

    def recording_fit(self: _CheckpointTrainer, *args: object) -> TrainReport:
        report = fit(self, *args)  # type: ignore[arg-type]
        reports.append(report)
        return report

    monkeypatch.setattr(_CheckpointTrainer, "fit", recording_fit)
    arch = space.parse("depth=1,width_0=32,activation=relu,dropout=0.1,norm=batch")
    config = TrainConfig(threads=1, lr=0.05)
    evaluator = TrainingEvaluator(space, task, train_config=config, latency_repeats=1)
    assert evaluator.config()["continue_from_checkpoints"] is True
    short = evaluator.evaluate(arch, 2)
    longer = evaluator.evaluate(arch, 4)
    assert short.info["continued_from"] == 0 and not short.info["continued"]
    assert longer.info["continued_from"] == 2 and longer.info["continued"]
    assert len(longer.info["valid_accuracy"]) == 4
    assert longer.info["valid_accuracy"][:2] == short.info["valid_accuracy"]
    assert longer.metrics["epochs"] == 4.0
    charged = [
        epochs_charged(TrialRecord(n, str(arch), b, r.status, 0, r.metrics, info=r.info))
        for n, (b, r) in enumerate([(2, short), (4, longer)])
    ]
    assert charged == [2.0, 2.0]  # an epochs budget pays only for what was trained
    # only the 2 extra epochs were trained, on the cosine of 4 epochs from epoch 2 on
    assert [len(r.curve) for r in reports] == [2, 2]
    assert [m.lr for m in reports[1].curve] == pytest.approx([0.025, 0.05 * 0.5 * (1 - 0.5**0.5)])

    scratch = TrainingEvaluator(
        space, task, train_config=config, latency_repeats=1, continue_from_checkpoints=False
    )
    again = scratch.evaluate(arch, 4)
    assert again.info["continued_from"] == 0
    assert len(reports[-1].curve) == 4
    assert longer.cost < again.cost * 1.5  # generous: timings on shared cores are noisy
