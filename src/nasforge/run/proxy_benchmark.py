"""Proxy scores against NAS-Bench-201: the table's column for each scored arch, and the
rank correlation of each proxy with it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from nasforge.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

    from nasforge.arch import Arch
    from nasforge.evaluate.nb201_benchmark import NB201Table
    from nasforge.space.base import SearchSpace

DEFAULT_METRIC = "cifar10_valid_acc"


def benchmark_table(path: Path, space: SearchSpace, column: str) -> NB201Table:
    """The NB201 table at ``path``, checked to fit ``space`` and to hold ``column``."""
    from nasforge.evaluate.nb201_benchmark import NB201Table

    if space.name != "nb201":
        raise ConfigError(
            f"--benchmark is a NAS-Bench-201 table: it covers space 'nb201' only, "
            f"not {space.name!r}"
        )
    table = NB201Table.from_csv(path)
    table.require([column])
    return table


def benchmark_values(
    table: NB201Table, space: SearchSpace, archs: list[Arch], column: str
) -> np.ndarray:
    """The benchmark column's value of every arch (checked before any scoring)."""
    import numpy as np

    values = table.columns[column]
    return np.array([values[table.row_of(space.format(arch))] for arch in archs], dtype=float)


def rank_correlations(
    columns: dict[str, np.ndarray], targets: np.ndarray
) -> dict[str, dict[str, float | None]]:
    """Spearman's and Kendall's rank correlation of each column with ``targets`` (None
    where undefined)."""
    from nasforge.proxies.correlation import kendall, spearman

    return {
        name: {
            "spearman": finite(spearman(values, targets)),
            "kendall": finite(kendall(values, targets)),
        }
        for name, values in columns.items()
    }


def finite(value: float) -> float | None:
    """JSON has no -inf or NaN: those become null."""
    value = float(value)
    return value if math.isfinite(value) else None
