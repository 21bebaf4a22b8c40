"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from nasforge.evaluate import NB201Table


def pytest_configure(config: pytest.Config) -> None:
    """One torch thread per test process: pytest-xdist already runs a process per core, and
    more threads than cores slow small CPU networks down by orders of magnitude."""
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def nb201_csv_path() -> Path:
    """The NAS-Bench-201 table: ``$NASFORGE_NB201``, else ``shared/`` beside the checkout."""
    candidates = []
    if os.environ.get("NASFORGE_NB201"):
        candidates.append(Path(os.environ["NASFORGE_NB201"]).expanduser())
    candidates.append(
        (Path(__file__).parents[1] / ".." / "shared" / "benchmarks" / "nb201.csv").resolve()
    )
    for path in candidates:
        if path.is_file():
            return path
    reason = (
        "NB201 table not found: set NASFORGE_NB201=/path/to/nb201.csv or put shared/ beside "
        "the checkout"
    )
    if os.environ.get("CI"):
        pytest.fail(reason)  # CI always has shared/: a missing table is a broken setup
    pytest.skip(reason)


@pytest.fixture(scope="session")
def nb201_table(nb201_csv_path: Path) -> NB201Table:
    """The NB201 table, loaded once per test session."""
    return NB201Table.from_csv(nb201_csv_path)


@pytest.fixture(autouse=True)
def _work_in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands that write to the current folder (stores, saved models) write to tmp_path."""
    monkeypatch.chdir(tmp_path)
