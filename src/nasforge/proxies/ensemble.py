"""Combining proxies: rank averaging, and a small model fit on a few labelled architectures.

Proxies live on different scales (synflow is a log, jacov a negative sum, params a count), so
both ensembles work on normalized ranks: each proxy's scores are ranked within the pool of
candidates being compared (ties averaged; NaN and -inf rank lowest) and scaled to [0, 1].
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
from scipy import stats

DEFAULT_MEMBERS: tuple[str, ...] = ("synflow", "jacov", "nwot")
"""The rank-average members: the three best single proxies on NAS-Bench-201."""


def normalized_ranks(values: npt.ArrayLike) -> np.ndarray:
    """Ranks scaled to [0, 1] (1 = best); NaN counts as the lowest score."""
    array = np.asarray(values, dtype=np.float64).copy()
    array[np.isnan(array)] = -np.inf
    if len(array) < 2:
        return np.ones_like(array)
    ranks = stats.rankdata(array)
    return np.asarray((ranks - 1.0) / (len(array) - 1.0), dtype=np.float64)


def rank_average(
    scores: Mapping[str, npt.ArrayLike], weights: Mapping[str, float] | None = None
) -> np.ndarray:
    """The (weighted) mean of each proxy's normalized ranks over the same candidates."""
    if not scores:
        raise ValueError("rank_average needs at least one proxy's scores")
    lengths = {len(np.asarray(v)) for v in scores.values()}
    if len(lengths) != 1:
        raise ValueError(f"proxies scored different numbers of candidates: {sorted(lengths)}")
    total = np.zeros(lengths.pop())
    weight_sum = 0.0
    for name, values in scores.items():
        weight = 1.0 if weights is None else float(weights.get(name, 0.0))
        total += weight * normalized_ranks(values)
        weight_sum += weight
    if weight_sum <= 0:
        raise ValueError("rank_average weights must not all be zero")
    return total / weight_sum


def rank_features(scores: Mapping[str, npt.ArrayLike], names: Sequence[str]) -> np.ndarray:
    """One row per candidate: the normalized rank of each proxy in ``names``."""
    return np.column_stack([normalized_ranks(scores[name]) for name in names])
