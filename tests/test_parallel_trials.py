"""Several trials at once in local worker processes (`ProcessExecutor`, `--workers N`)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nasforge.cli import app
from nasforge.errors import ConfigError
from nasforge.evaluate import NB201Table, Status
from nasforge.run.budget import Budget
from nasforge.run.executor import InlineExecutor, make_executor
from nasforge.run.experiment import Experiment
from nasforge.run.process_executor import ProcessExecutor
from nasforge.run.storage import Store
from nasforge.space import NB201Space
from nasforge.strategy import make_strategy
from parallel_helpers import DeadlyBenchmark, Repeating, SlowBenchmark

runner = CliRunner()


def _search(
    table: NB201Table, store: Store, name: str, workers: int, queries: int = 40, strategy="random"
) -> list:
    space = NB201Space()
    executor = InlineExecutor() if workers == 1 else ProcessExecutor(workers)
    result = Experiment(
        space,
        make_strategy(strategy, space, seed=3),
        SlowBenchmark(table, fidelity=12),
        budget=Budget(queries=queries),
        store=store,
        name=name,
        executor=executor,
    ).run()
    return result.trials


@pytest.mark.slow
def test_two_workers_evaluate_what_one_does_and_the_store_records_it(
    nb201_table: NB201Table, tmp_path: Path
) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        one = _search(nb201_table, store, "one", workers=1)
        two = _search(nb201_table, store, "two", workers=2)
        stored = store.trials(store.experiment("two").id)
    assert stored == two
    assert [t.number for t in two] == list(range(len(two)))
    assert all(t.status is Status.OK for t in two)
    assert sum(t.evaluated for t in two) == 40
    # random search proposes independently of results: the same archs, the same metrics
    assert {(t.arch, t.score) for t in one} == {(t.arch, t.score) for t in two}
    overlapping = [t for t in two if t.created_seq < two[max(t.number - 1, 0)].finished_seq]
    assert overlapping, "trials overlapped in time (asked before the previous one finished)"


@pytest.mark.slow
def test_evolution_with_pending_trials_finishes_its_budget(
    nb201_table: NB201Table, tmp_path: Path
) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        trials = _search(nb201_table, store, "evo", workers=2, queries=60, strategy="evolution")
    assert sum(t.evaluated for t in trials) == 60
    assert all(t.finished for t in trials)
    best = max(t.score for t in trials if t.score is not None)
    assert best >= np.median([t.score for t in trials if t.score is not None])


@pytest.mark.slow
def test_a_proposal_of_a_running_arch_waits_for_it_instead_of_running_twice(
    nb201_table: NB201Table, tmp_path: Path
) -> None:
    space = NB201Space()
    archs = [space.sample(np.random.default_rng(k)) for k in range(6)]
    with Store(tmp_path / "s.sqlite") as store:
        result = Experiment(
            space,
            Repeating(space, archs),
            SlowBenchmark(nb201_table, fidelity=12),
            budget=Budget(queries=6),
            store=store,
            name="twins",
            executor=ProcessExecutor(2),
        ).run()
    trials = result.trials
    assert sum(t.evaluated for t in trials) == 6
    firsts, twins = trials[0::2], trials[1::2]  # the budget is spent before the last twin
    assert len(firsts) == 6 and len(twins) == 5
    assert all(t.evaluated for t in firsts)
    assert [t.duplicate_of for t in twins] == [t.number for t in firsts[:5]]
    assert [t.score for t in twins] == [t.score for t in firsts[:5]]
    waited = [t for t in twins if t.created_seq < firsts[t.number // 2].finished_seq]
    assert waited, "some twin was proposed while its original was still running"


@pytest.mark.slow
def test_a_worker_that_dies_is_retried_then_its_trial_fails_with_the_reason(
    nb201_table: NB201Table, tmp_path: Path
) -> None:
    space = NB201Space()
    evaluator = DeadlyBenchmark(nb201_table, fidelity=12)
    first = space.sample(np.random.default_rng(3))
    evaluator.deadly = str(make_strategy("random", space, seed=3).ask().arch)
    assert first is not None
    with Store(tmp_path / "s.sqlite") as store:
        result = Experiment(
            space,
            make_strategy("random", space, seed=3),
            evaluator,
            budget=Budget(queries=20),
            store=store,
            name="deadly",
            executor=ProcessExecutor(2, max_retries=1),
        ).run()
        stored = store.trials(store.experiment("deadly").id)
    killed = [t for t in stored if t.arch == evaluator.deadly]
    assert killed and killed[0].status is Status.FAILED
    assert "worker process died" in (killed[0].error or "")
    assert "2 attempts" in (killed[0].error or "")
    assert sum(t.evaluated for t in stored) == 20
    assert all(t.finished for t in stored)
    others = [t for t in stored if t.arch != evaluator.deadly and t.evaluated]
    assert all(t.status is Status.OK for t in others)
    assert result.usage.queries == 20


def test_workers_must_be_at_least_one() -> None:
    with pytest.raises(ConfigError, match="at least 1"):
        make_executor("local", workers=0)
    with pytest.raises(ConfigError, match="at least 1"):
        ProcessExecutor(0)


def test_cli_workers_0_is_one_line_and_exit_2() -> None:
    result = runner.invoke(app, ["search", "--workers", "0", "--budget", "2"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "nasforge: error: --workers must be at least 1, not 0"
    ]


def test_cli_executor_ray_without_ray_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    result = runner.invoke(app, ["search", "--executor", "ray", "--budget", "2"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert 'pip install "nasforge[ray]"' in lines[0]


def test_cli_unknown_executor_is_exit_2() -> None:
    result = runner.invoke(app, ["search", "--executor", "dask", "--budget", "2"])
    assert result.exit_code == 2
    assert "unknown executor 'dask'" in result.stderr


def test_cli_unreachable_ray_address_is_one_line_and_exit_2() -> None:
    started = time.monotonic()
    result = runner.invoke(
        app, ["search", "--executor", "ray", "--ray-address", "127.0.0.1:9", "--budget", "2"]
    )
    assert time.monotonic() - started < 30
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "cannot reach the Ray cluster at 127.0.0.1:9" in lines[0]
