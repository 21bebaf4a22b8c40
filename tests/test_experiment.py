"""The experiment loop: budgets, duplicates, failures, reproducibility and resume."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from helpers import journal
from nasforge.arch import Arch
from nasforge.errors import ConfigError, StoreError
from nasforge.evaluate import NB201Benchmark, NB201Table, Result, Status
from nasforge.objective import Objective
from nasforge.run.budget import Budget
from nasforge.run.experiment import Experiment
from nasforge.run.storage import Store
from nasforge.space import NB201Space
from nasforge.strategy import make_strategy


def _experiment(
    table: NB201Table,
    *,
    strategy: str = "evolution",
    seed: int = 0,
    queries: int = 60,
    store: Store | None = None,
    name: str = "exp",
    fidelity: int = 200,
) -> Experiment:
    space = NB201Space()
    return Experiment(
        space,
        make_strategy(strategy, space, seed=seed),
        NB201Benchmark(table, fidelity=fidelity),
        budget=Budget(queries=queries),
        store=store,
        name=name,
    )


def test_query_budget_counts_evaluations_and_reuses_duplicates_for_free(
    nb201_table: NB201Table,
) -> None:
    result = _experiment(nb201_table, queries=80).run()
    space = NB201Space()
    evaluated = [t for t in result.trials if t.evaluated]
    duplicates = [t for t in result.trials if t.duplicate_of is not None]
    assert len(evaluated) == result.usage.queries == 80
    assert duplicates, "evolution on NB201 proposes isomorphic cells; they must be reused"
    for trial in duplicates:
        original = result.trials[trial.duplicate_of]  # type: ignore[index]
        assert original.evaluated and original.number < trial.number
        assert space.canonical(Arch.parse(trial.arch)) == space.canonical(Arch.parse(original.arch))
        assert trial.metrics == original.metrics
    assert result.usage.simulated_seconds == pytest.approx(sum(t.cost for t in evaluated))


def test_best_is_the_highest_validation_accuracy_not_test(nb201_table: NB201Table) -> None:
    result = _experiment(nb201_table, queries=100, fidelity=12).run()
    best = result.best
    assert best is not None
    ok = [t for t in result.trials if t.status is Status.OK]
    assert best.metrics["valid_acc"] == max(t.metrics["valid_acc"] for t in ok)
    assert best.metrics["valid_acc"] == best.metrics["cifar10_valid_acc_12ep"]
    assert best.score == best.metrics["valid_acc"]


def test_minimized_objective_scores_are_negated(nb201_table: NB201Table) -> None:
    space = NB201Space()
    experiment = Experiment(
        space,
        make_strategy("random", space, seed=3),
        NB201Benchmark(nb201_table),
        budget=Budget(queries=40),
        objective=Objective("params_m_cifar10", "min"),
    )
    best = experiment.run().best
    assert best is not None and best.score == -best.metrics["params_m_cifar10"]


def test_simulated_seconds_budget_stops_once_spent(nb201_table: NB201Table) -> None:
    space = NB201Space()
    limit = 50_000.0
    result = Experiment(
        space,
        make_strategy("random", space, seed=1),
        NB201Benchmark(nb201_table),
        budget=Budget(simulated_seconds=limit),
    ).run()
    costs = [t.cost for t in result.trials if t.evaluated]
    assert sum(costs) >= limit > sum(costs[:-1])


def test_epochs_budget_charges_each_evaluation_its_fidelity(nb201_table: NB201Table) -> None:
    space = NB201Space()
    result = Experiment(
        space,
        make_strategy("hyperband", space, seed=2, budgets=[12, 200]),
        NB201Benchmark(nb201_table),
        budget=Budget(epochs=1000),
    ).run()
    epochs = [t.metrics["epochs"] for t in result.trials if t.evaluated]
    assert set(epochs) == {12.0, 200.0}
    assert sum(epochs) >= 1000 > sum(epochs[:-1])


class SlowBenchmark(NB201Benchmark):
    def evaluate(self, arch: Arch, budget: float | None = None) -> Result:
        time.sleep(0.02)
        return super().evaluate(arch, budget)


def test_wall_clock_budget_stops_in_time(nb201_table: NB201Table) -> None:
    space = NB201Space()
    started = time.monotonic()
    result = Experiment(
        space,
        make_strategy("random", space, seed=1),
        SlowBenchmark(nb201_table),
        budget=Budget(queries=10_000, wall_seconds=0.5),
    ).run()
    assert 0.5 <= result.usage.wall_seconds < 2.0
    assert 5 < result.usage.queries < 10_000
    assert time.monotonic() - started < 5


class FlakyBenchmark(NB201Benchmark):
    """Fails on every cell with an avg_pool on the first edge, like an out-of-memory trial."""

    def evaluate(self, arch: Arch, budget: float | None = None) -> Result:
        if arch["node1_in0"] == "avg_pool_3x3":
            raise RuntimeError("simulated out of memory")
        return super().evaluate(arch, budget)


def test_a_failing_evaluation_ends_its_trial_not_the_search(nb201_table: NB201Table) -> None:
    space = NB201Space()
    result = Experiment(
        space,
        make_strategy("random", space, seed=0),
        FlakyBenchmark(nb201_table),
        budget=Budget(queries=60),
    ).run()
    failed = [t for t in result.trials if t.status is Status.FAILED]
    assert failed and all(t.error == "RuntimeError: simulated out of memory" for t in failed)
    assert all(t.score is None for t in failed)
    assert result.usage.queries == 60
    assert result.best is not None and result.best.status is Status.OK


def test_budget_must_be_positive() -> None:
    for bad in (0, -5):
        with pytest.raises(ConfigError, match="greater than 0"):
            Budget(queries=bad)
    with pytest.raises(ConfigError, match="needs queries"):
        Budget()


@pytest.mark.parametrize("strategy", ["random", "evolution", "local", "tpe"])
def test_same_seed_same_trials_other_seed_other_trials(
    nb201_table: NB201Table, strategy: str
) -> None:
    first = _experiment(nb201_table, strategy=strategy, seed=7, queries=40).run()
    again = _experiment(nb201_table, strategy=strategy, seed=7, queries=40).run()
    other = _experiment(nb201_table, strategy=strategy, seed=8, queries=40).run()
    assert journal(first.trials) == journal(again.trials)
    assert [t.arch for t in first.trials] != [t.arch for t in other.trials]


def test_a_larger_budget_continues_the_same_run(nb201_table: NB201Table, tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        short = _experiment(nb201_table, queries=30, store=store).run()
        extended = _experiment(nb201_table, queries=70, store=store).run()
    straight = _experiment(nb201_table, queries=70).run()
    assert journal(extended.trials)[: len(short.trials)] == journal(short.trials)
    assert journal(extended.trials) == journal(straight.trials)


def test_resuming_with_other_settings_is_refused(nb201_table: NB201Table, tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        _experiment(nb201_table, queries=10, store=store).run()
        with pytest.raises(StoreError, match="other settings"):
            _experiment(nb201_table, queries=10, store=store, seed=1).run()
        assert len(store.trials(store.experiment("exp").id)) >= 10


KILLABLE_SEARCH = textwrap.dedent(
    """
    import sys, time
    from nasforge.evaluate import NB201Benchmark
    from nasforge.run.budget import Budget
    from nasforge.run.experiment import Experiment
    from nasforge.run.storage import Store
    from nasforge.space import NB201Space
    from nasforge.strategy import make_strategy

    class SlowBenchmark(NB201Benchmark):
        def evaluate(self, arch, budget=None):
            time.sleep(0.03)
            return super().evaluate(arch, budget)

    table_path, store_path = sys.argv[1], sys.argv[2]
    space = NB201Space()
    evaluator = SlowBenchmark.from_csv(table_path, fidelity=12)
    Experiment(space, make_strategy("evolution", space, seed=5), evaluator,
               budget=Budget(queries=150), store=Store(store_path), name="killed").run()
    """
)


def _finished_trials(store_path: Path) -> int:
    if not store_path.exists():
        return 0
    try:
        with sqlite3.connect(store_path) as connection:
            row = connection.execute("SELECT COUNT(*) FROM trials WHERE status != 'running'")
            return int(row.fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def test_an_experiment_killed_with_sigkill_resumes_without_loss_or_repeat(
    nb201_csv_path: Path, nb201_table: NB201Table, tmp_path: Path
) -> None:
    store_path = tmp_path / "killed.sqlite"
    script = tmp_path / "search.py"
    script.write_text(KILLABLE_SEARCH)
    process = subprocess.Popen([sys.executable, str(script), str(nb201_csv_path), str(store_path)])
    deadline = time.monotonic() + 60
    while _finished_trials(store_path) < 40 and time.monotonic() < deadline:
        assert process.poll() is None, "the search ended before it could be killed"
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL

    with Store(store_path) as store:
        before = store.trials(store.experiment("killed").id)
        finished_before = {t.number: t for t in before if t.finished}
        assert 40 <= len(finished_before) < 150
        space = NB201Space()
        resumed = Experiment(
            space,
            make_strategy("evolution", space, seed=5),
            NB201Benchmark(nb201_table, fidelity=12),
            budget=Budget(queries=150),
            store=store,
            name="killed",
        ).run()
        after = store.trials(store.experiment("killed").id)

    numbers = [t.number for t in after]
    assert numbers == list(range(len(after))), "no trial lost or stored twice"
    assert all(t.finished for t in after)
    assert resumed.usage.queries == 150
    for number, trial in finished_before.items():
        assert after[number] == trial, "a finished trial was evaluated again or changed"

    uninterrupted = _experiment(
        nb201_table, strategy="evolution", seed=5, queries=150, fidelity=12, name="killed"
    ).run()
    assert journal(resumed.trials) == journal(uninterrupted.trials)
    assert resumed.best is not None and uninterrupted.best is not None
    assert (resumed.best.number, resumed.best.arch) == (
        uninterrupted.best.number,
        uninterrupted.best.arch,
    )
