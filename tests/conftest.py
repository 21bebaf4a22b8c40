"""Shared pytest fixtures."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from nasforge.evaluate import NB201Table
from processes import alive, children, command_line

LEAK_GRACE_SECONDS = 5.0
"""How long a child process started by a test may take to end after the test."""
PR_SET_CHILD_SUBREAPER = 36


LONGEST_FIRST = ("test_every_readme_command_runs_as_written", "test_the_default_search_repeats")
"""The longest tests (minutes each): started first, so that pytest -n 2 does not end on them."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest tests first, then the other slow ones, then the rest (each group in its
    collected order): with -n 2 the long ones start at once on their own workers while the
    rest fill in, instead of one of them starting last and running alone."""

    def rank(item: pytest.Item) -> int:
        if item.name.startswith(LONGEST_FIRST):
            return 0
        return 1 if item.get_closest_marker("slow") else 2

    items.sort(key=rank)


def pytest_configure(config: pytest.Config) -> None:
    """One torch thread per test process: pytest-xdist already runs a process per core, and
    more threads than cores slow small CPU networks down by orders of magnitude."""
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if sys.platform.startswith("linux"):
        # Orphans of the processes a test starts (the workers of a killed search) become
        # children of this process instead of PID 1, where `_no_leaked_processes` sees them.
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _our_children() -> set[int]:
    """Live child processes of this test process, but for its multiprocessing resource
    tracker (started once by the first in-process `ProcessExecutor`, ending with it)."""
    from multiprocessing import resource_tracker

    tracker = getattr(resource_tracker._resource_tracker, "_pid", None)
    return {pid for pid in children().get(os.getpid(), []) if alive(pid) and pid != tracker}


@pytest.fixture(autouse=True)
def _no_leaked_processes() -> Iterator[None]:
    """Fail a test that leaves a process running: a child of this process (or an orphan
    of one, see `pytest_configure`) that appeared during the test and is still alive
    `LEAK_GRACE_SECONDS` after it. The leaked processes are then killed."""
    if not sys.platform.startswith("linux"):
        yield
        return
    before = _our_children()
    yield
    deadline = time.monotonic() + LEAK_GRACE_SECONDS
    while (left := _our_children() - before) and time.monotonic() < deadline:
        time.sleep(0.1)
    if left:
        lines = [f"{pid} {command_line(pid)[:120]}" for pid in sorted(left)]
        for pid in left:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        pytest.fail("the test left processes running:\n" + "\n".join(lines))


@pytest.fixture(scope="session")
def nb201_csv_path() -> Path:
    """The NAS-Bench-201 table: ``$NASFORGE_NB201``, else ``shared/`` beside the checkout."""
    return shared_file("NASFORGE_NB201", "benchmarks", "nb201.csv")


def shared_file(env_var: str, *parts: str) -> Path:
    """A file of ``shared/``: ``$env_var`` (the file, or a folder holding it), else ``shared/``
    beside the checkout.

    Outside CI a missing file skips the test with how to provide it; in CI it fails.
    """
    candidates = []
    if os.environ.get(env_var):
        given = Path(os.environ[env_var]).expanduser()
        candidates.append(given / parts[-1] if given.is_dir() else given)  # a folder or the file
    candidates.append((Path(__file__).parents[1] / ".." / "shared").resolve().joinpath(*parts))
    for path in candidates:
        if path.is_file():
            return path
    reason = (
        f"{parts[-1]} not found: set {env_var}=/path/to/{parts[-1]} or put shared/ beside "
        "the checkout"
    )
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def zc_csv_path() -> Path:
    """Published zero-cost proxy scores (NAS-Bench-Suite-Zero) for NB201."""
    return shared_file("NASFORGE_ZC_NB201", "benchmarks", "zc_nasbench201.csv.gz")


@pytest.fixture(scope="session")
def cifar10_small_path() -> Path:
    """The CIFAR-10 subset of ``shared/data``."""
    return shared_file("NASFORGE_DATA", "data", "cifar10_small.npz")


@pytest.fixture(scope="session")
def nb201_table(nb201_csv_path: Path) -> NB201Table:
    """The NB201 table, loaded once per test session."""
    return NB201Table.from_csv(nb201_csv_path)


@pytest.fixture(autouse=True)
def _work_in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands that write to the current folder (stores, saved models) write to tmp_path."""
    monkeypatch.chdir(tmp_path)
