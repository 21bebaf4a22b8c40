"""Transfer between tasks: `search --warm-start-from STORE:NAME` and `nasforge.run.transfer`."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nasforge.cli import app
from nasforge.errors import ConfigError, StoreError
from nasforge.evaluate import NB201Benchmark, NB201Table
from nasforge.run.budget import Budget
from nasforge.run.experiment import Experiment
from nasforge.run.storage import Store
from nasforge.run.transfer import load_transfer_source, parse_source, transfer_strategy
from nasforge.space import NB201Space
from nasforge.strategy.base import Observation, PriorTrial
from nasforge.strategy.bayesian import BayesianOptimization
from nasforge.strategy.optuna_sampler import TPE

runner = CliRunner()


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def store(nb201_csv_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 40-query evolution search on CIFAR-10, the source of every transfer here."""
    path = tmp_path_factory.mktemp("transfer") / "s.sqlite"
    code, _, err = _run(
        "search", "--benchmark", str(nb201_csv_path), "--strategy", "evolution",
        "--budget", "40", "--store", str(path), "--name", "c10", "--json",
    )  # fmt: skip
    assert code == 0, err
    return path


def _source_scores(store: Path) -> dict[str, float]:
    with Store(store, read_only=True) as journal:
        trials = journal.trials(journal.experiment("c10").id)
    return {t.arch: t.metrics["valid_acc"] for t in trials if t.evaluated}


def test_source_gives_best_distinct_seeds_and_standardized_prior(store: Path) -> None:
    space = NB201Space()
    source = load_transfer_source(f"{store}:c10", space, top=5)
    assert source.source == f"{store.resolve()}:c10"
    scores = _source_scores(store)
    canonical = {space.canonical(space.parse(text)) for text in scores}
    assert len(source.prior) == len(canonical)  # one per distinct cell
    z = np.array([value for _, value in source.prior])
    assert abs(z.mean()) < 1e-9 and abs(z.std() - 1.0) < 1e-9
    assert list(z) == sorted(z, reverse=True)
    assert source.seeds == [text for text, _ in source.prior[:5]]
    # the best seed is the source's best cell (or a cell isomorphic to it)
    best = max(scores, key=lambda text: scores[text])
    assert space.canonical(space.parse(source.seeds[0])) == space.canonical(space.parse(best))


def test_warm_search_evaluates_seeds_first_records_source_and_resumes(
    store: Path, nb201_csv_path: Path
) -> None:
    code, _, err = _run(
        "search", "--benchmark", str(nb201_csv_path), "--dataset", "imagenet16",
        "--strategy", "bayesian", "--budget", "12", "--store", str(store), "--name", "im",
        "--warm-start-from", f"{store}:c10", "--warm-start-top", "4", "--json",
    )  # fmt: skip
    assert code == 0, err
    assert "prior archs inform the strategy" in err
    source = load_transfer_source(f"{store}:c10", NB201Space(), top=4)
    with Store(store, read_only=True) as journal:
        record = journal.experiment("im")
        trials = journal.trials(record.id)
    params = record.config["strategy"]["params"]
    assert record.config["strategy"]["name"] == "warm-start"
    assert params["source"] == source.source
    assert params["seeds"] == source.seeds
    assert len(params["prior"]) == len(source.prior)
    space = NB201Space()
    assert [space.parse(t.arch) for t in trials[:4]] == [space.parse(s) for s in source.seeds]
    # the prior is no query: the budget of 12 buys 12 evaluations here
    assert sum(t.evaluated for t in trials) == 12
    code, _, err = _run("resume", "--store", str(store), "--name", "im", "--budget", "16")
    assert code == 0, err
    with Store(store, read_only=True) as journal:
        resumed = journal.trials(journal.experiment("im").id)
    assert [t.arch for t in resumed[:12]] == [t.arch for t in trials]
    assert sum(t.evaluated for t in resumed) == 16
    report = store.parent / "im.html"
    code, _, err = _run("report", "--store", str(store), "--name", "im", "--out", str(report))
    assert code == 0, err
    assert f"transfer from {source.source} ({len(source.prior)} prior archs)" in (
        report.read_text()
    )


def _nb201_prior(table: NB201Table, space: NB201Space, count: int) -> list[PriorTrial]:
    rng = np.random.default_rng(0)
    archs = [space.sample(rng) for _ in range(count)]
    evaluator = NB201Benchmark(table, dataset="cifar10", space=space)
    values = np.array([evaluator.evaluate(a).metrics["valid_acc"] for a in archs])
    z = (values - values.mean()) / values.std()
    return [PriorTrial(a, float(v)) for a, v in zip(archs, z, strict=True)]


def test_bayesian_predictor_trains_on_the_prior(nb201_table: NB201Table) -> None:
    space = NB201Space()
    prior = _nb201_prior(nb201_table, space, 30)
    strategy = BayesianOptimization(space, seed=0, epochs=5)
    strategy.learn_prior(prior)
    first = strategy.ask()  # the prior replaces the random start: no random phase after it
    strategy.tell(Observation(first, 70.0))
    strategy.tell(Observation(strategy.ask(), 60.0))
    features, targets = strategy.training_data()
    observed = {space.canonical(a) for a, _ in strategy.history_}
    unobserved = [t for t in strategy.prior_ if space.canonical(t.arch) not in observed]
    assert len(strategy.prior_) == len(prior)  # small: kept whole, best first
    assert [t.z for t in strategy.prior_] == sorted((t.z for t in prior), reverse=True)
    assert len(features) == 2 + len(unobserved)
    prior_targets = targets[2:]
    # the prior's ranking is kept (ties where clipping raised the worst to one floor)
    assert np.all(np.diff(prior_targets) <= 1e-6)
    assert abs(float(strategy.prior_targets_.mean())) < 1e-5  # standardized within the prior


def test_a_large_prior_is_thinned(nb201_table: NB201Table) -> None:
    space = NB201Space()
    prior = _nb201_prior(nb201_table, space, 1000)
    strategy = BayesianOptimization(space, seed=0)
    strategy.learn_prior(prior)
    best = sorted(prior, key=lambda t: -t.z)
    assert len(strategy.prior_) == 400
    assert strategy.prior_[:200] == best[:200]
    assert strategy.prior_[-1].z < best[600].z  # the spread reaches the bottom ranks


def test_bayesian_with_a_prior_skips_its_random_start(nb201_table: NB201Table) -> None:
    space = NB201Space()
    prior = _nb201_prior(nb201_table, space, 30)
    cold, warm = BayesianOptimization(space, seed=3), BayesianOptimization(space, seed=3)
    warm.learn_prior(prior)
    for strategy in (cold, warm):
        for value in (50.0, 60.0):
            strategy.tell(Observation(strategy.ask(), value))
    # after two observations the warm one proposes from its predictor: a mutation of a
    # parent, never a fresh random arch as the cold one's third proposal
    assert warm.ask().arch != cold.ask().arch


def test_tpe_adds_the_prior_on_the_scale_seen_here(nb201_table: NB201Table) -> None:
    space = NB201Space()
    prior = _nb201_prior(nb201_table, space, 20)
    strategy = TPE(space, seed=0)
    strategy.learn_prior(prior)
    told = []
    for value in (40.0, 44.0):
        proposal = strategy.ask()
        strategy.tell(Observation(proposal, value))
        told.append(value)
    assert len(strategy.study_.trials) == 2  # the prior waits for two observations here
    strategy.ask()
    added = [t for t in strategy.study_.trials if t.state.name == "COMPLETE"][2:]
    assert len(added) == len(prior)
    values = np.array([t.value for t in added])
    expected = np.mean(told) + np.array([t.z for t in prior]) * np.std(told)
    assert np.allclose(values, expected)


def test_transfer_inside_a_budget_scheduler_reaches_its_sampler(nb201_table: NB201Table) -> None:
    space = NB201Space()
    prior = _nb201_prior(nb201_table, space, 10)
    source_texts = [(space.format(t.arch), t.z) for t in prior]
    from nasforge.run.transfer import TransferSource

    source = TransferSource("x:y", [source_texts[0][0]], source_texts)
    strategy = transfer_strategy("bohb", {"budgets": (12.0, 200.0)}, space, source, seed=0)
    first = strategy.ask()
    assert first.arch == space.parse(source_texts[0][0])
    run = Experiment(
        space,
        transfer_strategy("hyperband", {"budgets": (12.0, 200.0)}, space, source, seed=0),
        NB201Benchmark(nb201_table, space=space),
        budget=Budget(queries=10),
    ).run()
    assert space.parse(run.trials[0].arch) == space.parse(source_texts[0][0])


def test_parse_source() -> None:
    assert parse_source("a/b.sqlite:name") == (Path("a/b.sqlite"), "name")
    assert parse_source("C:/x.db:n") == (Path("C:/x.db"), "n")  # split at the last colon
    for bad in ("nocolon", ":name", "store:"):
        with pytest.raises(ConfigError, match="STORE:NAME"):
            parse_source(bad)


def test_no_finished_trials_is_refused(store: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.sqlite"
    copy.write_bytes(store.read_bytes())
    with Store(copy) as journal:
        journal.create_experiment("empty", dict(journal.experiment("c10").config))
    with pytest.raises(StoreError, match="no finished trials"):
        load_transfer_source(f"{copy}:empty", NB201Space())


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("source", "extra", "message"),
    [
        ("{store}:missing", [], "no experiment 'missing'"),
        ("{tmp}/nothing.sqlite:c10", [], "no store file"),
        ("{store}", [], "STORE:NAME"),
        ("{store}:c10", ["--warm-start", "synflow"], "not both"),
        ("{store}:c10", ["--warm-start-top", "0"], "top >= 1"),
        ("{store}:c10", ["--strategy", "warm-start"], "not warm-start itself"),
    ],
)
def test_bad_warm_start_from_is_one_line_exit_2(
    store: Path,
    nb201_csv_path: Path,
    tmp_path: Path,
    source: str,
    extra: list[str],
    message: str,
) -> None:
    before = _digest(store)
    code, out, err = _run(
        "search", "--benchmark", str(nb201_csv_path), "--budget", "5", "--store", str(store),
        "--name", "bad", "--warm-start-from", source.format(store=store, tmp=tmp_path), *extra,
    )  # fmt: skip
    assert code == 2, out + err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert _digest(store) == before  # nothing written


def test_another_space_is_refused_before_any_training(store: Path) -> None:
    before = _digest(store)
    code, out, err = _run(
        "search", "--space", "mlp", "--task", "digits", "--budget", "2", "--store", str(store),
        "--name", "other", "--warm-start-from", f"{store}:c10",
    )  # fmt: skip
    assert code == 2, out + err
    assert "searched space 'nb201', not 'mlp'" in err
    assert len(err.strip().splitlines()) == 1
    assert _digest(store) == before


def test_same_space_with_other_options_is_refused(store: Path) -> None:
    with pytest.raises(ConfigError, match="other options: channels=16 there, 8 here"):
        load_transfer_source(f"{store}:c10", NB201Space(channels=8))


@pytest.mark.slow
def test_transfer_from_a_3000_query_search(nb201_csv_path: Path, tmp_path: Path) -> None:
    """At the size users reach: a 3,000-query source; a warm Bayesian search stays fast
    (its predictor thins the prior: docs/benchmarks.md) and evaluates the source's best
    first."""
    store = tmp_path / "big.sqlite"
    code, _, err = _run(
        "search", "--benchmark", str(nb201_csv_path), "--strategy", "random", "--budget",
        "3000", "--store", str(store), "--name", "src", "--json",
    )  # fmt: skip
    assert code == 0, err
    source = load_transfer_source(f"{store}:src", NB201Space(), top=10)
    assert len(source.prior) > 2000
    code, _, err = _run(
        "search", "--benchmark", str(nb201_csv_path), "--dataset", "imagenet16", "--strategy",
        "bayesian", "--budget", "30", "--store", str(store), "--name", "warm",
        "--warm-start-from", f"{store}:src", "--json",
    )  # fmt: skip
    assert code == 0, err
    with Store(store, read_only=True) as journal:
        record = journal.experiment("warm")
        trials = [t for t in journal.trials(record.id) if t.evaluated]
    assert len(record.config["strategy"]["params"]["prior"]) == len(source.prior)
    space = NB201Space()
    assert [space.parse(t.arch) for t in trials[:10]] == [space.parse(s) for s in source.seeds]
    assert len(trials) == 30
