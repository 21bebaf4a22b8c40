"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


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
    pytest.skip(
        "NB201 table not found: set NASFORGE_NB201=/path/to/nb201.csv or put shared/ beside "
        "the checkout"
    )
