"""Several processes on one store: different experiments at once, and processes that join
one experiment (as with Optuna's shared storage), each taking proposals, none evaluating an
arch another one evaluates."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import journal
from nasforge.arch import Arch
from nasforge.errors import StoreError
from nasforge.evaluate import NB201Benchmark, NB201Table
from nasforge.run import store_file
from nasforge.run.budget import Budget
from nasforge.run.experiment import Experiment
from nasforge.run.storage import Store, TrialRecord
from nasforge.space import NB201Space, make_space
from nasforge.strategy import make_strategy


def _nasforge(*args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "nasforge.cli", *args]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy()
    )


def _finish(process: subprocess.Popen[str], timeout: float = 300) -> dict[str, object]:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err
    payload: dict[str, object] = json.loads(out)
    return payload


def _evaluated_twice(trials: list[TrialRecord], space_name: str) -> list[str]:
    space = make_space(space_name)
    seen: dict[tuple[Arch, float | None], int] = {}
    twice = []
    for trial in trials:
        if trial.evaluated:
            key = (space.canonical(Arch.parse(trial.arch)), trial.budget)
            if key in seen:
                twice.append(f"{trial.number} and {seen[key]}")
            seen[key] = trial.number
    return twice


def _stored(path: Path, name: str) -> tuple[list[TrialRecord], bool]:
    with Store(path) as store:
        record = store.experiment(name)
        return store.trials(record.id), record.shared


def _bench(table: Path, store: Path, name: str, seed: int, budget: int, *extra: str) -> list[str]:
    return [
        "search", "--space", "nb201", "--benchmark", str(table), "--strategy", "evolution",
        "--seed", str(seed), "--budget", str(budget), "--store", str(store), "--name", name,
        "--json", *extra,
    ]  # fmt: skip


@pytest.mark.slow
def test_two_processes_write_different_experiments_to_one_file_at_once(
    nb201_csv_path: Path, nb201_table: NB201Table, tmp_path: Path
) -> None:
    store = tmp_path / "shared.sqlite"
    first = _nasforge(*_bench(nb201_csv_path, store, "a", 7, 1500))
    second = _nasforge(*_bench(nb201_csv_path, store, "b", 8, 1500))
    _finish(first), _finish(second)
    space = NB201Space()
    for name, seed in (("a", 7), ("b", 8)):
        trials, shared = _stored(store, name)
        alone = Experiment(
            space,
            make_strategy("evolution", space, seed=seed),
            NB201Benchmark(nb201_table),
            budget=Budget(queries=1500),
            name=name,
        ).run()
        assert not shared
        assert journal(trials) == journal(alone.trials), f"experiment {name} as if alone"


def _assert_one_shared_search(trials: list[TrialRecord], budget: int, space: str) -> None:
    assert [t.number for t in trials] == list(range(len(trials))), "numbers from 0, no gaps"
    assert all(t.finished for t in trials)
    assert budget <= sum(t.evaluated for t in trials) <= budget + 1
    assert _evaluated_twice(trials, space) == []
    runs = {t.run_id for t in trials if t.evaluated}
    assert len(runs) == 2, "both processes evaluated trials"


@pytest.mark.slow
def test_two_searches_of_one_name_join_one_experiment(tmp_path: Path) -> None:
    store = tmp_path / "joint.sqlite"
    args = [
        "search", "--task", "digits", "--budget", "30", "--epochs", "1", "--final-epochs", "0",
        "--workers", "1", "--threads", "1", "--store", str(store), "--name", "same", "--json",
    ]  # fmt: skip
    first, second = _nasforge(*args), _nasforge(*args)
    _finish(first), _finish(second)
    trials, shared = _stored(store, "same")
    assert shared
    _assert_one_shared_search(trials, 30, "nb201")


@pytest.mark.slow
def test_resume_while_the_search_still_runs_joins_it(tmp_path: Path) -> None:
    """The failure of issue 13: a 'killed' search whose process in fact still ran (the kill
    hit another process of a pipeline) was resumed, and both took the same trial numbers."""
    store = tmp_path / "s.sqlite"
    first = _nasforge(
        "search", "--task", "digits", "--budget", "40", "--epochs", "2", "--final-epochs", "0",
        "--workers", "1", "--threads", "1", "--store", str(store), "--name", "r", "--json",
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while sum(t.evaluated for t in _stored_or_empty(store)) < 2:
        assert first.poll() is None, "the search ended before the resume could join it"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    # The resume starts at once (a budget of 40 leaves the joiner time to start up on a loaded
    # machine: in CI a budget of 10 ran out before it took a trial); status runs beside it.
    second = _nasforge(
        "resume", "--store", str(store), "--name", "r", "--final-epochs", "0", "--json"
    )
    status = _finish(_nasforge("status", "--store", str(store), "--json"), timeout=60)
    assert [e["state"] for e in status["experiments"]] == ["running"]  # type: ignore[attr-defined]
    _finish(first), _finish(second)
    trials, shared = _stored(store, "r")
    assert shared
    _assert_one_shared_search(trials, 40, "nb201")


def _stored_or_empty(path: Path) -> list[TrialRecord]:
    if not path.exists():
        return []
    try:
        return _stored(path, "r")[0]
    except StoreError:  # not created yet
        return []


def test_a_trained_search_resumes_from_the_cli(tmp_path: Path) -> None:
    """The stored training-evaluator config rebuilds the evaluator (it did not before)."""
    store = tmp_path / "t.sqlite"
    common = ["--store", str(store), "--name", "t", "--final-epochs", "0", "--json"]
    _finish(_nasforge("search", "--budget", "2", "--epochs", "1", "--workers", "1", *common))
    resumed = _finish(_nasforge("resume", "--budget", "3", "--workers", "1", *common))
    assert resumed["trials"] == 3


def test_a_store_made_by_another_process_meanwhile_is_joined(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes open one new file: both see no tables, one creates the schema first;
    the other then joins it instead of failing on "table meta already exists"."""
    path = tmp_path / "joint.sqlite"
    with Store(path) as first:
        first.create_experiment("made-first", {"space": "nb201"})
    real_tables = store_file._tables
    calls: list[int] = []

    def late(db: sqlite3.Connection) -> set[str]:
        calls.append(1)
        return set() if len(calls) == 1 else real_tables(db)  # looked before it existed

    monkeypatch.setattr(store_file, "_tables", late)
    with Store(path) as second:
        assert second.get_experiment("made-first") is not None
    assert len(calls) == 2
