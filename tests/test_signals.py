"""SIGINT and SIGTERM stop a real `nasforge search` cleanly, with its worker processes or its
Ray instance: exit 130 / 143 with one line saying how to resume, no process of the run left,
the interrupted trials left for `resume`. Workers die by themselves when the search process
is killed with SIGKILL."""

from __future__ import annotations

import importlib.util
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nasforge.run.storage import Store
from processes import alive, command_line, descendants
from ray_helpers import CLUSTER_MARK, LOOPBACK_ENV, kill_all, pids_with_env

pytestmark = pytest.mark.slow


def _wait(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


def _finished(store: Path) -> int:
    try:
        with sqlite3.connect(store, timeout=5) as db:
            row = db.execute("SELECT COUNT(*) FROM trials WHERE status != 'running'").fetchone()
    except sqlite3.Error:
        return 0
    return int(row[0])


def _search(store: Path, *options: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    command = [sys.executable, "-m", "nasforge.cli", "search", "--task", "digits"]
    command += ["--budget", "300", "--epochs", "3", "--final-epochs", "0", "--threads", "1"]
    command += ["--store", str(store), "--name", "live", *options]
    return subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    )


def _running(process: subprocess.Popen, store: Path, workers: int) -> set[int]:
    """Wait until the search has finished a trial and has `workers` worker processes; return
    every process below it."""
    _wait(
        lambda: (
            (_finished(store) >= 1 and len(descendants(process.pid)) >= workers)
            or process.poll() is not None
        ),
        180,
        "the first trial",
    )
    assert process.poll() is None, process.stderr.read() if process.stderr else ""
    return descendants(process.pid)


def _gone(pids: set[int], seconds: float = 10) -> None:
    try:
        _wait(lambda: not any(alive(pid) for pid in pids), seconds, "the run's processes to end")
    except AssertionError:
        left = [f"{pid} {command_line(pid)[:100]}" for pid in pids if alive(pid)]
        raise AssertionError("processes of the search outlived it:\n" + "\n".join(left)) from None


def _stopped_cleanly(process: subprocess.Popen, signum: int, store: Path) -> str:
    try:
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 128 + signum, stderr
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert f"stopped by {signal.Signals(signum).name}" in last
    assert f"nasforge resume --store {store} --name live" in last
    with Store(store) as journal:
        record = journal.experiment("live")
        assert not journal.live_runs(record.id)
    return stderr


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "s.sqlite"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_a_search_with_two_workers_and_leaves_no_process(
    store: Path, signum: int
) -> None:
    process = _search(store, "--workers", "2")
    tree = _running(process, store, workers=2)
    os.kill(process.pid, signum)
    _stopped_cleanly(process, signum, store)
    _gone(tree)


def test_interrupted_trials_run_again_on_resume(store: Path) -> None:
    process = _search(store, "--workers", "2")
    _running(process, store, workers=2)
    os.kill(process.pid, signal.SIGTERM)
    _stopped_cleanly(process, signal.SIGTERM, store)
    with Store(store) as journal:
        trials = journal.trials(journal.experiment("live").id)
    unfinished = [t.number for t in trials if not t.finished]
    assert unfinished, "the signal came while trials ran"
    evaluated = str(sum(t.evaluated for t in trials))
    resume = ["resume", "--store", str(store), "--name", "live", "--budget", evaluated]
    done = subprocess.run(
        [sys.executable, "-m", "nasforge.cli", *resume, "--final-epochs", "0"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    with Store(store) as journal:
        after = {t.number: t for t in journal.trials(journal.experiment("live").id)}
    assert all(after[number].finished for number in unfinished)


def test_workers_end_when_the_search_is_killed(store: Path) -> None:
    process = _search(store, "--workers", "2")
    tree = _running(process, store, workers=2)
    process.kill()
    process.wait()
    _gone(tree, seconds=10)


@pytest.fixture
def ray_env() -> Iterator[dict[str, str]]:
    """The environment of a search on a local Ray instance, marked so that teardown kills any
    of its processes that a failing test leaves."""
    if importlib.util.find_spec("ray") is None:  # not imported here: Ray reads its
        pytest.skip("needs Ray: pip install 'nasforge[ray]'")  # loopback setting at import
    mark = uuid.uuid4().hex
    env = {**os.environ, **LOOPBACK_ENV, CLUSTER_MARK: mark, "RAY_AUTH_TOKEN": mark * 2}
    try:
        yield env
    finally:
        for _ in range(3):
            kill_all(pids_with_env(CLUSTER_MARK, mark))
            time.sleep(0.2)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_a_search_on_ray_and_leaves_no_process(
    store: Path, signum: int, ray_env: dict[str, str]
) -> None:
    process = _search(store, "--executor", "ray", "--workers", "2", env=ray_env)
    tree = _running(process, store, workers=3)
    os.kill(process.pid, signum)
    _stopped_cleanly(process, signum, store)
    _gone(tree | set(pids_with_env(CLUSTER_MARK, ray_env[CLUSTER_MARK])), seconds=30)
