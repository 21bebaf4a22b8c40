"""Zero-cost warm start: the WarmStart strategy, `zero_cost_seeds` and `search --warm-start`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from helpers import conv3x3_count as score
from helpers import drive, journal
from nasforge.arch import Arch
from nasforge.cli import app
from nasforge.errors import StrategyError
from nasforge.objective import Objective
from nasforge.proxies import ProxyBatch, ProxyError
from nasforge.proxies.ensemble import rank_average
from nasforge.proxies.scoring import score_archs
from nasforge.proxies.warm_start import (
    sample_distinct,
    warm_start_strategy,
    zero_cost_seeds,
)
from nasforge.run.budget import Budget
from nasforge.run.experiment import Experiment
from nasforge.run.storage import Store
from nasforge.space.nb201.space import NB201Space
from nasforge.strategy import (
    STRATEGIES,
    BayesianOptimization,
    LocalSearch,
    Observation,
    Proposal,
    RegularizedEvolution,
    ReinforceController,
    Strategy,
    SuccessiveHalving,
    WarmStart,
    make_strategy,
)
from nasforge.strategy.optuna_sampler import OptunaStrategy
from nasforge.testing.strategy_conformance import SyntheticEvaluator

runner = CliRunner()
SEEDS = [
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|",
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|none~0|nor_conv_3x3~1|nor_conv_1x1~2|",
    "|none~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|none~1|avg_pool_3x3~2|",
]
SCHEDULERS = {name for name, cls in STRATEGIES.items() if issubclass(cls, SuccessiveHalving)}
PLAIN = sorted(set(STRATEGIES) - SCHEDULERS - {"warm-start"})


@pytest.fixture(scope="module")
def space() -> NB201Space:
    return NB201Space()


def seed_archs(space: NB201Space) -> list[Arch]:
    return [space.parse(text) for text in SEEDS]


def tell_seeds(strategy: Strategy, archs: list[Arch]) -> None:
    """Tell `strategy` the seeds' outcomes as if another strategy had proposed them."""
    for arch in archs:
        strategy.tell(Observation(Proposal(arch), score(arch), (score(arch),)))


# -- the strategy ------------------------------------------------------------------------


@pytest.mark.parametrize("inner", PLAIN)
def test_seeds_come_first_in_order_then_the_inner_strategy_told_them(
    space: NB201Space, inner: str
) -> None:
    warm = make_strategy("warm-start", space, seed=3, inner=inner, seeds=SEEDS)
    proposals = [warm.ask() for _ in SEEDS]
    assert [space.format(p.arch) for p in proposals] == SEEDS
    assert all(p.budget is None for p in proposals)
    for proposal in proposals:
        warm.tell(Observation(proposal, score(proposal.arch), (score(proposal.arch),)))
    # From here on it is exactly the inner strategy, after being told the seeds' outcomes.
    alone = make_strategy(inner, space, seed=3)
    tell_seeds(alone, seed_archs(space))
    assert drive(warm, 25) == drive(alone, 25)


def test_evolution_takes_the_seeds_into_its_population_instead_of_random_archs(
    space: NB201Space,
) -> None:
    warm = WarmStart(
        space, seed=0, inner="evolution", inner_params={"population_size": 5}, seeds=SEEDS
    )
    drive(warm, len(SEEDS))
    evolution = warm.inner_
    assert isinstance(evolution, RegularizedEvolution)
    assert list(evolution.population_) == [(a, score(a)) for a in seed_archs(space)]
    drive(warm, 2)  # the random phase: population_size minus the seeds
    assert evolution.random_asked_ == 2
    members = {arch for arch, _ in evolution.population_}
    child = warm.ask().arch  # a mutation of a tournament winner, possibly a seed
    assert evolution.random_asked_ == 2
    assert any(sum(child[k] != m[k] for k in child) == 1 for m in members)


def test_evolution_alone_keeps_its_random_phase_and_counts_only_foreign_archs(
    space: NB201Space,
) -> None:
    evolution = RegularizedEvolution(space, seed=1, population_size=4)
    drive(evolution, 4)
    assert (evolution.random_asked_, evolution.foreign_) == (4, 0)
    proposal = evolution.ask()
    evolution.tell(Observation(proposal, 1.0))
    evolution.tell(Observation(proposal, 2.0))  # told twice (a scheduler's promotion)
    assert evolution.foreign_ == 0
    tell_seeds(evolution, seed_archs(space)[:1])
    evolution.tell(Observation(Proposal(seed_archs(space)[1]), None))  # failed: not counted
    assert evolution.foreign_ == 1


def test_bayesian_trains_on_the_seeds(space: NB201Space) -> None:
    warm = WarmStart(space, inner="bayesian", seeds=SEEDS)
    drive(warm, len(SEEDS) + 1)
    bayesian = warm.inner_
    assert isinstance(bayesian, BayesianOptimization)
    assert bayesian.history_[: len(SEEDS)] == [(a, score(a)) for a in seed_archs(space)]
    assert {space.canonical(a) for a in seed_archs(space)} <= bayesian.seen_


def test_local_search_climbs_from_the_best_seed(space: NB201Space) -> None:
    warm = WarmStart(space, inner="local", seeds=SEEDS)
    drive(warm, len(SEEDS))
    local = warm.inner_
    assert isinstance(local, LocalSearch)
    best = max(seed_archs(space), key=score)
    assert local.current_ == (best, score(best))
    neighbor = warm.ask().arch
    assert neighbor in space.neighbors(best)


def test_local_search_ignores_worse_foreign_archs_and_keeps_its_own_rules(
    space: NB201Space,
) -> None:
    local = LocalSearch(space, seed=0)
    start = local.ask()
    local.tell(Observation(start, 0.5))
    assert local.current_ == (start.arch, 0.5)
    worse, better = seed_archs(space)[:2]
    local.tell(Observation(Proposal(worse), 0.1))
    assert local.current_ == (start.arch, 0.5)
    local.tell(Observation(Proposal(better), None))
    assert local.current_ == (start.arch, 0.5)
    local.tell(Observation(Proposal(better), 0.9))
    assert local.current_ == (better, 0.9)
    assert local.ask().arch in space.neighbors(better)


def test_reinforce_updates_its_controller_with_the_seeds(space: NB201Space) -> None:
    warm = WarmStart(space, inner="reinforce", seeds=SEEDS)
    before = ReinforceController(space).log_prob(seed_archs(space)[0])
    drive(warm, len(SEEDS))
    controller = warm.inner_
    assert isinstance(controller, ReinforceController)
    assert (controller.count_, controller.updates_) == (len(SEEDS), len(SEEDS))
    assert controller.log_prob(seed_archs(space)[0]) != before


@pytest.mark.parametrize("inner", ["tpe", "optuna"])
def test_optuna_adds_the_seeds_to_its_study(space: NB201Space, inner: str) -> None:
    warm = WarmStart(space, inner=inner, seeds=SEEDS)
    drive(warm, len(SEEDS))
    warm.tell(Observation(Proposal(space.sample(np.random.default_rng(0))), None))
    study = warm.inner_
    assert isinstance(study, OptunaStrategy)
    trials = study.study_.trials
    assert [t.values for t in trials[:3]] == [[score(a)] for a in seed_archs(space)]
    assert [Arch(t.params) for t in trials[:3]] == seed_archs(space)
    assert trials[3].state.name == "FAIL"
    drive(warm, 5)  # its own trials still go through ask and tell
    trials = study.study_.trials
    assert len(trials) == 9 and all(t.state.is_finished() for t in trials)


def test_multi_objective_optuna_adds_every_score(space: NB201Space) -> None:
    warm = WarmStart(space, inner="optuna", inner_params={"sampler": "nsga2"}, seeds=SEEDS)
    warm.configure_objectives(2)
    assert warm.multi_objective
    for proposal in [warm.ask() for _ in SEEDS]:
        warm.tell(Observation(proposal, 1.0, (1.0, 2.0)))
    study = warm.inner_
    assert isinstance(study, OptunaStrategy)
    assert [t.values for t in study.study_.trials] == [[1.0, 2.0]] * 3


@pytest.mark.parametrize("inner", sorted(SCHEDULERS))
def test_schedulers_screen_the_seeds_at_their_lowest_rung(
    space: NB201Space, inner: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    warm = WarmStart(space, inner=inner, inner_params={"budgets": [4, 12, 36]}, seeds=SEEDS)
    proposals = [warm.ask() for _ in SEEDS]
    assert [p.arch for p in proposals] == seed_archs(space)
    assert {p.budget for p in proposals} == {4.0}
    scheduler = warm.inner_
    assert isinstance(scheduler, SuccessiveHalving)
    told: list[Observation] = []
    monkeypatch.setattr(scheduler.sampler_, "tell", told.append)
    for proposal in proposals:
        warm.tell(Observation(proposal, score(proposal.arch)))
    assert [o.arch for o in told] == seed_archs(space)
    monkeypatch.undo()
    more = [warm.ask() for _ in range(6)]  # the rest of the first bracket: the sampler's own
    assert {p.budget for p in more} == {4.0}
    assert not {p.arch for p in more} & set(seed_archs(space))


def test_schedulers_give_foreign_observations_to_their_sampler(space: NB201Space) -> None:
    scheduler = make_strategy("hyperband", space, sampler="evolution")
    assert isinstance(scheduler, SuccessiveHalving)
    tell_seeds(scheduler, seed_archs(space))
    evolution = scheduler.sampler_
    assert isinstance(evolution, RegularizedEvolution)
    assert [a for a, _ in evolution.population_] == seed_archs(space)
    assert not scheduler.brackets_


def test_config_round_trips_through_make_strategy_and_json(space: NB201Space) -> None:
    warm = make_strategy(
        "warm-start",
        space,
        seed=4,
        inner="evolution",
        inner_params={"population_size": 6},
        seeds=[space.parse(SEEDS[0]), str(space.parse(SEEDS[1])), SEEDS[2]],
    )
    config = json.loads(json.dumps(warm.config()))
    assert config["seeds"] == SEEDS and config["inner"] == "evolution"
    assert config["inner_params"]["population_size"] == 6
    rebuilt = make_strategy("warm-start", space, seed=4, **config)
    assert rebuilt.config() == warm.config()
    assert drive(rebuilt, 30) == drive(warm, 30)
    scheduled = warm_start_strategy("sh", space, seed_archs(space), seed=1, budgets=(1, 3, 9))
    config = json.loads(json.dumps(scheduled.config()))
    assert make_strategy("warm-start", space, seed=1, **config).config() == config


def test_bad_settings_are_clear_errors(space: NB201Space) -> None:
    with pytest.raises(StrategyError, match="unknown strategy 'nope'"):
        WarmStart(space, inner="nope")
    with pytest.raises(StrategyError, match="has no option temperature"):
        WarmStart(space, inner="evolution", inner_params={"temperature": 2})
    with pytest.raises(StrategyError, match="cannot wrap another warm-start"):
        WarmStart(space, inner="warm-start")
    with pytest.raises(StrategyError, match="a list of archs"):
        WarmStart(space, seeds=SEEDS[0])
    with pytest.raises(ValueError, match="malformed NB201 arch string"):
        WarmStart(space, seeds=["|nor_conv_3x3~0|"])


def _experiment(store: Store, queries: int, strategy: Strategy | None = None) -> Experiment:
    space = NB201Space()
    return Experiment(
        space,
        strategy or warm_start_strategy("evolution", space, SEEDS, seed=2, population_size=5),
        SyntheticEvaluator(),
        budget=Budget(queries=queries),
        objective=Objective("score"),
        store=store,
        name="warm",
    )


def _from_store(store: Store, queries: int) -> Experiment:
    """The experiment rebuilt as `resume` does: its strategy from the stored config alone."""
    stored = store.experiment("warm").config["strategy"]
    strategy = make_strategy(stored["name"], NB201Space(), seed=stored["seed"], **stored["params"])
    return _experiment(store, queries, strategy)


def test_a_resumed_experiment_equals_an_uninterrupted_one() -> None:
    store = Store(":memory:")
    first = _experiment(store, 2).run()  # stopped among the seeds
    assert [t.arch for t in first.trials] == [str(a) for a in seed_archs(NB201Space())[:2]]
    config = store.experiment("warm").config["strategy"]
    assert (config["name"], config["params"]["seeds"]) == ("warm-start", SEEDS)
    assert len(_from_store(store, 12).run().trials) >= 12
    resumed = _from_store(store, 30).run()
    straight = _experiment(Store(":memory:"), 30).run()
    assert journal(resumed.trials) == journal(straight.trials)
    assert [t.arch for t in straight.trials[:3]] == [str(a) for a in seed_archs(NB201Space())]


# -- zero_cost_seeds ---------------------------------------------------------------------

TINY_BATCH = ProxyBatch(input_shape=(3, 8, 8), num_classes=10)


@pytest.fixture(scope="module")
def tiny_space() -> NB201Space:
    return NB201Space(channels=4, cells_per_stage=1)


def test_the_sample_is_distinct_functions_drawn_from_the_seed(tiny_space: NB201Space) -> None:
    archs = sample_distinct(tiny_space, 60, seed=5)
    assert len(archs) == len({tiny_space.canonical(a) for a in archs}) == 60
    rng = np.random.default_rng(5)
    assert archs[0] == tiny_space.sample(rng) and archs[1] == tiny_space.sample(rng)
    assert sample_distinct(tiny_space, 60, seed=5) == archs != sample_distinct(tiny_space, 60, 6)


def test_zero_cost_seeds_are_the_best_of_the_sample_by_synflow(tiny_space: NB201Space) -> None:
    progress: list[tuple[int, int]] = []
    seeds = zero_cost_seeds(
        tiny_space,
        TINY_BATCH,
        sample=40,
        top=6,
        seed=1,
        on_progress=lambda done, total: progress.append((done, total)),
    )
    assert len(seeds) == len(set(seeds)) == 6
    assert progress[-1] == (40, 40)
    sample = sample_distinct(tiny_space, 40, seed=1)
    direct = score_archs(tiny_space, sample, ["synflow"], TINY_BATCH, seed=1).scores["synflow"]
    by_arch = dict(zip(sample, direct, strict=True))
    assert all(seed in by_arch for seed in seeds)
    chosen = [by_arch[seed] for seed in seeds]
    assert chosen == sorted(chosen, reverse=True)  # best first
    assert chosen[-1] >= max(v for a, v in by_arch.items() if a not in seeds)
    assert chosen == sorted(direct, reverse=True)[:6]


def test_several_proxies_rank_by_their_average_rank(tiny_space: NB201Space) -> None:
    proxies = ("synflow", "params")
    seeds = zero_cost_seeds(tiny_space, TINY_BATCH, proxies=proxies, sample=30, top=4, seed=2)
    sample = sample_distinct(tiny_space, 30, seed=2)
    scores = score_archs(tiny_space, sample, proxies, TINY_BATCH, seed=2).scores
    merit = rank_average(scores)
    order = np.argsort(-merit, kind="stable")[:4]
    assert seeds == [sample[int(i)] for i in order]


def test_zero_cost_seeds_bad_inputs(tiny_space: NB201Space) -> None:
    with pytest.raises(ProxyError, match="needs a mini-batch of data"):
        zero_cost_seeds(tiny_space, TINY_BATCH, proxies=("jacov",), sample=5)
    with pytest.raises(ProxyError, match="unknown proxy"):
        zero_cost_seeds(tiny_space, TINY_BATCH, proxies=("synflw",), sample=5)
    with pytest.raises(ProxyError, match="sample >= 1 and top >= 1"):
        zero_cost_seeds(tiny_space, TINY_BATCH, sample=5, top=0)


# -- the command line --------------------------------------------------------------------


def _search(table: Path, store: Path, *extra: str) -> tuple[dict[str, object], str]:
    result = runner.invoke(
        app,
        ["search", "--benchmark", str(table), "--store", str(store), "--json", *extra],
    )
    assert result.exit_code == 0, result.stderr
    payload: dict[str, object] = json.loads(result.stdout)
    return payload, result.stderr


def _stored(store: Path, name: str) -> tuple[dict[str, object], list[str]]:
    with Store(store) as journal_:
        record = journal_.experiment(name)
        return record.config, [t.arch for t in journal_.trials(record.id)]


def test_search_evaluates_the_zero_cost_seeds_first(nb201_csv_path: Path) -> None:
    store = Path("s.sqlite")
    args = ["--strategy", "evolution", "--warm-start", "synflow", "--warm-start-sample", "50"]
    payload, err = _search(
        nb201_csv_path, store, *args, "--warm-start-top", "5", "--budget", "20", "--name", "w"
    )
    assert payload["trials"] == 20
    (note,) = [line for line in err.splitlines() if line.startswith("warm start:")]
    assert note.startswith("warm start: scored 50 archs with synflow in ")
    assert note.endswith(" s; seeding evolution with 5")
    expected = zero_cost_seeds(NB201Space(), ProxyBatch((3, 32, 32), 10), sample=50, top=5, seed=0)
    config, archs = _stored(store, "w")
    assert archs[:5] == [str(a) for a in expected]
    strategy = config["strategy"]
    assert isinstance(strategy, dict) and strategy["name"] == "warm-start"
    assert strategy["params"]["inner"] == "evolution"
    assert strategy["params"]["seeds"] == [NB201Space().format(a) for a in expected]


def test_resume_rebuilds_the_seeds_from_the_store_without_scoring(
    nb201_csv_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Path("s.sqlite")
    args = ["-s", "channels=4", "-s", "cells_per_stage=1", "--strategy", "local"]
    args += ["--warm-start", "synflow", "--warm-start", "zen", "--warm-start-sample", "30"]
    args += ["--warm-start-top", "3"]
    _, err = _search(nb201_csv_path, store, *args, "--budget", "4", "--name", "cut")
    assert "with synflow+zen (average rank)" in err and "seeding local with 3" in err
    _search(nb201_csv_path, store, *args, "--budget", "15", "--name", "straight")

    def no_scoring(*args: object, **kwargs: object) -> None:
        raise AssertionError("resume scored architectures again")

    monkeypatch.setattr("nasforge.proxies.warm_start.zero_cost_seeds", no_scoring)
    result = runner.invoke(
        app, ["resume", "--store", str(store), "--name", "cut", "--budget", "15", "--json"]
    )
    assert result.exit_code == 0, result.stderr
    assert "warm start" not in result.stderr
    assert _stored(store, "cut")[1] == _stored(store, "straight")[1]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--warm-start", "jacov"], "--warm-start jacov needs a mini-batch of data"),
        (["--warm-start", "synflw"], "unknown proxy 'synflw'"),
        (["--warm-start", "synflow", "--warm-start-top", "0"], "must be >= 1"),
        (["--warm-start", "synflow", "--strategy", "warm-start"], "wraps the strategy"),
    ],
)
def test_bad_warm_start_settings_are_one_line_errors(
    nb201_csv_path: Path, args: list[str], needle: str
) -> None:
    store = Path("s.sqlite")
    result = runner.invoke(
        app, ["search", "--benchmark", str(nb201_csv_path), "--store", str(store), *args]
    )
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], result.stderr
    assert result.stdout == ""
    assert not store.exists()


def test_a_search_that_trains_scores_on_the_task_mini_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nasforge.proxies import warm_start

    batches: list[ProxyBatch] = []
    real = warm_start.zero_cost_seeds

    def recording(space: NB201Space, batch: ProxyBatch, **kwargs: Any) -> list[Arch]:
        batches.append(batch)
        return real(space, batch, **kwargs)

    monkeypatch.setattr(warm_start, "zero_cost_seeds", recording)
    args = ["search", "--task", "digits", "--epochs", "1", "--final-epochs", "0", "--json"]
    args += ["--warm-start", "jacov", "--warm-start-sample", "8", "--warm-start-top", "2"]
    result = runner.invoke(app, [*args, "--budget", "2", "--store", "s.sqlite", "--name", "t"])
    assert result.exit_code == 0, result.stderr
    assert "seeding evolution with 2" in result.stderr
    (batch,) = batches
    assert batch.has_data and batch.input_shape == (1, 8, 8) and batch.num_classes == 10
    config, archs = _stored(Path("s.sqlite"), "t")
    strategy = config["strategy"]
    assert isinstance(strategy, dict)
    assert [NB201Space().format(Arch.parse(a)) for a in archs] == strategy["params"]["seeds"]
