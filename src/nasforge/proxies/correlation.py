"""Rank correlations between proxy scores and accuracies (ties averaged, -inf ranks lowest)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import stats


def _paired(x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"need two 1-d arrays of the same length, got {a.shape} and {b.shape}")
    keep = ~(np.isnan(a) | np.isnan(b))
    return a[keep], b[keep]


def spearman(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Spearman's rho over the pairs where neither value is NaN."""
    a, b = _paired(x, y)
    if len(a) < 2:
        return float("nan")
    return float(np.corrcoef(stats.rankdata(a), stats.rankdata(b))[0, 1])


def kendall(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Kendall's tau-b over the pairs where neither value is NaN."""
    a, b = _paired(x, y)
    if len(a) < 2:
        return float("nan")
    return float(stats.kendalltau(stats.rankdata(a), stats.rankdata(b)).statistic)
