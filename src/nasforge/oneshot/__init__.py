"""One-shot NAS: train a supernet of a space once, read the architecture off it.

::

    from nasforge.oneshot import DARTS
    result = DARTS(NB201Space(channels=8, cells_per_stage=1)).search(task, epochs=10)
    result.arch, result.diagnostics.skip_share, result.child()

Methods are hooks on the shared `Trainer` (`OneShotMethod`); supernets come from the space
(`SearchSpace.supernet`, e.g. `NB201SuperNet`).
"""

from __future__ import annotations

from nasforge.oneshot.beta_darts import BetaDARTS, beta_decay
from nasforge.oneshot.bilevel import BilevelSplit, split_for_bilevel
from nasforge.oneshot.darts import DARTS, unrolled_hypergradient
from nasforge.oneshot.diagnostics import Diagnostics
from nasforge.oneshot.errors import OneShotError
from nasforge.oneshot.gdas import GDAS, gumbel_hard
from nasforge.oneshot.memory import MemoryEstimate, estimate_memory
from nasforge.oneshot.method import OneShotMethod, OneShotResult
from nasforge.oneshot.nb201_supernet import NB201SuperNet
from nasforge.oneshot.supernet import SuperNet

METHODS: dict[str, type[OneShotMethod]] = {
    method.name: method for method in (DARTS, GDAS, BetaDARTS)
}
"""The methods by the name users pick them by (CLI, config files)."""

__all__ = [
    "DARTS",
    "GDAS",
    "METHODS",
    "BetaDARTS",
    "BilevelSplit",
    "Diagnostics",
    "MemoryEstimate",
    "NB201SuperNet",
    "OneShotError",
    "OneShotMethod",
    "OneShotResult",
    "SuperNet",
    "beta_decay",
    "estimate_memory",
    "gumbel_hard",
    "split_for_bilevel",
    "unrolled_hypergradient",
]
