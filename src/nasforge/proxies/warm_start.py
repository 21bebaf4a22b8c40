"""Zero-cost warm start: the best of a random sample by a proxy, to seed any search strategy.

`zero_cost_seeds` draws distinct archs at random, scores their untrained networks with one
or more zero-cost proxies and returns the best few; `warm_start_strategy` wraps a registered
strategy so that it evaluates those first (see `nasforge.strategy.warm_start.WarmStart`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nasforge.arch import Arch
from nasforge.proxies.base import ProxyBatch, ProxyError, check_proxy_names
from nasforge.proxies.ensemble import rank_average
from nasforge.proxies.scoring import ProgressCallback, score_archs
from nasforge.space.base import SearchSpace
from nasforge.strategy.warm_start import WarmStart

DRAWS_PER_ARCH = 100
"""Give up drawing after this many draws per wanted arch (a space with fewer distinct ones)."""


def sample_distinct(space: SearchSpace, count: int, seed: int = 0) -> list[Arch]:
    """`count` archs drawn uniformly by ``np.random.default_rng(seed)``, distinct by
    `space.canonical` (each as first drawn); fewer if the space has fewer distinct archs."""
    rng = np.random.default_rng(seed)
    archs: list[Arch] = []
    seen: set[Arch] = set()
    for _ in range(DRAWS_PER_ARCH * count):
        if len(archs) >= count:
            break
        arch = space.sample(rng)
        key = space.canonical(arch)
        if key not in seen:
            seen.add(key)
            archs.append(arch)
    return archs


def zero_cost_seeds(
    space: SearchSpace,
    batch: ProxyBatch,
    *,
    proxies: Sequence[str] = ("synflow",),
    sample: int = 1000,
    top: int = 10,
    seed: int = 0,
    workers: int = 1,
    on_progress: ProgressCallback | None = None,
) -> list[Arch]:
    """The `top` best of `sample` distinct random archs by the proxy, best first.

    With several proxies, archs are ranked by the average of their normalized ranks
    (`rank_average`). Ties keep the order of drawing; a score that is not a number counts as
    the worst. Networks are built with weights drawn from `seed`, which also draws the sample.
    """
    names = [proxies] if isinstance(proxies, str) else list(proxies)
    if not names:
        raise ProxyError("a zero-cost warm start needs at least one proxy")
    if sample < 1 or top < 1:
        raise ProxyError(
            f"a zero-cost warm start needs sample >= 1 and top >= 1, not {sample}, {top}"
        )
    check_proxy_names(names, batch)
    archs = sample_distinct(space, sample, seed)
    scored = score_archs(
        space, archs, names, batch, seed=seed, workers=workers, on_progress=on_progress
    )
    return best_archs(archs, scored.scores, top)


def best_archs(archs: Sequence[Arch], scores: dict[str, np.ndarray], top: int) -> list[Arch]:
    """The `top` best of `archs` by one proxy's scores, or by the rank average of several."""
    if len(scores) == 1:
        (values,) = scores.values()
        merit = np.asarray(values, dtype=np.float64).copy()
        merit[np.isnan(merit)] = -np.inf
    else:
        merit = rank_average(scores)
    order = np.argsort(-merit, kind="stable")
    return [archs[int(i)] for i in order[:top]]


def warm_start_strategy(
    strategy_name: str,
    space: SearchSpace,
    seeds: Sequence[Arch | str],
    seed: int = 0,
    **params: Any,
) -> WarmStart:
    """The strategy `strategy_name` (with `params`), proposing `seeds` first."""
    return WarmStart(space, seed=seed, inner=strategy_name, inner_params=params, seeds=seeds)
