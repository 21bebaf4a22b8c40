"""Kill a search of thousands of queries at random moments; resume; nothing lost or repeated.

A search of 3,000 NAS-Bench-201 queries (some 20,000 proposals with evolution) is run in a
subprocess, killed with SIGKILL wherever it happens to be after a random number of
queries, then inside an evaluation, right after an ask, inside a store transaction and inside
an evaluation again, resumed after each kill, and finally run to the end. Its
trials must be exactly those of the same search run without interruption.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import finished_trials, journal
from nasforge.evaluate import NB201Benchmark, NB201Table
from nasforge.run.budget import Budget
from nasforge.run.experiment import Experiment
from nasforge.run.storage import Store, TrialRecord
from nasforge.space import NB201Space
from nasforge.strategy import make_strategy

QUERIES = 3000
SCRIPT = Path(__file__).with_name("killable_search.py")


def _stored(store_path: Path) -> list[TrialRecord]:
    with Store(store_path) as store:
        record = store.get_experiment("killed")
        return [] if record is None else store.trials(record.id)


def _start(args: list[str]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    return subprocess.Popen([sys.executable, str(SCRIPT), *args], env=env)


def _kill(process: subprocess.Popen[bytes]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the search ended before it was killed"


def _kill_at(table: Path, store_path: Path, moment: str, count: int, marker: Path) -> None:
    """Run until the `count`-th `moment`, and kill the process there."""
    marker.unlink(missing_ok=True)
    process = _start([str(table), str(store_path), str(QUERIES), moment, str(count), str(marker)])
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert process.poll() is None, f"the search ended before its {count}th {moment}"
        assert time.monotonic() < deadline, f"no {moment} #{count} within 120 s"
        time.sleep(0.01)
    _kill(process)


def _check_consistent(trials: list[TrialRecord], finished_earlier: dict[int, TrialRecord]) -> None:
    assert [t.number for t in trials] == list(range(len(trials))), "a trial lost or stored twice"
    for number, trial in finished_earlier.items():
        assert trials[number] == trial, f"finished trial {number} was evaluated again or changed"


@pytest.mark.slow
def test_a_search_of_thousands_of_queries_resumes_after_kills_at_random_moments(
    nb201_csv_path: Path, nb201_table: NB201Table, tmp_path: Path
) -> None:
    rng = random.Random(int(os.environ.get("NASFORGE_KILL_SEED", "13")))
    store_path, marker = tmp_path / "killed.sqlite", tmp_path / "paused"
    finished: dict[int, TrialRecord] = {}
    queries_after_kills = []
    moments = [
        ("evaluate", rng.randint(300, 700)),
        ("ask", None),
        ("write", rng.randint(2, 10)),
        ("evaluate", rng.randint(100, 400)),
    ]
    process = _start([str(nb201_csv_path), str(store_path), str(QUERIES)])
    threshold = rng.randint(200, 1000)  # a moment the test does not choose: wherever it is
    while finished_trials(store_path) < threshold:
        assert process.poll() is None, "the search ended before it was killed"
        time.sleep(0.005)
    _kill(process)
    trials = _stored(store_path)
    _check_consistent(trials, finished)
    finished = {t.number: t for t in trials if t.finished}
    queries_after_kills.append(sum(t.evaluated for t in trials))

    for moment, count in moments:
        asks_replayed = len(_stored(store_path))
        if count is None:  # the asks of a resumed run start with the replayed ones
            count = asks_replayed + rng.randint(500, 3000)
        _kill_at(nb201_csv_path, store_path, moment, count, marker)
        trials = _stored(store_path)
        _check_consistent(trials, finished)
        finished = {t.number: t for t in trials if t.finished}
        queries_after_kills.append(sum(t.evaluated for t in trials))
    assert queries_after_kills == sorted(queries_after_kills), "each resume made progress"
    assert queries_after_kills[-1] < QUERIES, "the last kill came before the end"
    assert any(not t.finished for t in trials), "a trial was running at the last kill"

    space = NB201Space()
    with Store(store_path) as store:
        resumed = Experiment(
            space,
            make_strategy("evolution", space, seed=5),
            NB201Benchmark(nb201_table, fidelity=12),
            budget=Budget(queries=QUERIES),
            store=store,
            name="killed",
        ).run()
        trials = store.trials(store.experiment("killed").id)
    _check_consistent(trials, finished)
    assert all(t.finished for t in trials)
    assert resumed.usage.queries == QUERIES

    uninterrupted = Experiment(
        space,
        make_strategy("evolution", space, seed=5),
        NB201Benchmark(nb201_table, fidelity=12),
        budget=Budget(queries=QUERIES),
        name="killed",
    ).run()
    assert len(uninterrupted.trials) > 2 * QUERIES, "the search proposed many duplicates"
    assert journal(resumed.trials) == journal(uninterrupted.trials)
    assert resumed.best is not None and uninterrupted.best is not None
    assert (resumed.best.number, resumed.best.arch) == (
        uninterrupted.best.number,
        uninterrupted.best.arch,
    )
