"""One-shot NAS: train a supernet of a space once, read the architecture off it.

::

    from nasforge.oneshot import DARTS
    result = DARTS(NB201Space(channels=8, cells_per_stage=1)).search(task, epochs=10)
    result.arch, result.diagnostics.skip_share, result.child(task.x_train)

Methods are hooks on the shared `Trainer` (`OneShotMethod`): DARTS (first and second
order), GDAS and beta-DARTS learn architecture weights by gradient; ENAS samples paths from
an LSTM controller trained by REINFORCE; SPOS trains uniformly sampled paths, then evolves
architectures scored on the trained supernet. Supernets come from the space
(`SearchSpace.supernet`): a `ChoiceSuperNet` for every space, nb201 included, with one
vector of architecture weights per decision (`SuperNet`).
"""

from __future__ import annotations

from nasforge.oneshot.beta_darts import BetaDARTS, beta_decay
from nasforge.oneshot.bilevel import BilevelSplit, split_for_bilevel
from nasforge.oneshot.calibration import recalibrate_batchnorm
from nasforge.oneshot.darts import DARTS, DARTS2, unrolled_hypergradient
from nasforge.oneshot.diagnostics import Diagnostics
from nasforge.oneshot.enas import ENAS
from nasforge.oneshot.errors import OneShotError
from nasforge.oneshot.gdas import GDAS, gumbel_hard
from nasforge.oneshot.memory import MemoryEstimate, estimate_memory
from nasforge.oneshot.method import OneShotMethod
from nasforge.oneshot.registry import METHODS, make_method, method_options
from nasforge.oneshot.result import OneShotResult, SearchMonitor
from nasforge.oneshot.sampling import PathScorer
from nasforge.oneshot.spos import SPOS
from nasforge.oneshot.supernet import Alpha, SuperNet

__all__ = [
    "DARTS",
    "DARTS2",
    "ENAS",
    "GDAS",
    "METHODS",
    "SPOS",
    "Alpha",
    "BetaDARTS",
    "BilevelSplit",
    "Diagnostics",
    "MemoryEstimate",
    "OneShotError",
    "OneShotMethod",
    "OneShotResult",
    "PathScorer",
    "SearchMonitor",
    "SuperNet",
    "beta_decay",
    "estimate_memory",
    "gumbel_hard",
    "make_method",
    "method_options",
    "recalibrate_batchnorm",
    "split_for_bilevel",
    "unrolled_hypergradient",
]
