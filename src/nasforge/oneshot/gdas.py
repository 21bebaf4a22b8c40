"""GDAS: searching with a differentiable sampler (Dong and Yang, CVPR 2019).

Each step samples one op per edge with the Gumbel-softmax trick at temperature ``tau``
(annealed linearly from ``tau_max`` to ``tau_min`` over the epochs); the forward pass runs
only the sampled op of every edge, scaled by its hard one-hot weight, whose value is 1 and
whose gradient is the soft sample's (straight-through), so alpha learns from one path per
step. The weight step trains a freshly sampled path, the architecture step another.

As ``xautodl``'s GDAS does, the sampler is ``softmax((log_softmax(alpha) + g) / tau)`` with
Gumbel noise ``g``, resampled if it is not finite, and BatchNorm of the candidate ops tracks
running statistics (``--track_running_stats 1``). ``xautodl``'s NB201 cell also adds the
other ops' weights to each edge's output: zero in value, but each receives the edge output's
summed gradient, which (softmax ignores a shift shared by all its inputs' gradients) moves
the sampled op's gradient by minus that sum. ``add_unselected=True`` does the same; it is off
by default, as in ``xautodl``'s DARTS-space cell. With BatchNorm after every op the summed
gradient is small, and in our CPU runs it did not change the found cells
(``docs/benchmarks.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nasforge.oneshot.errors import OneShotError
from nasforge.oneshot.memory import Probe
from nasforge.oneshot.method import OneShotMethod
from nasforge.oneshot.supernet import SuperNet
from nasforge.space.base import SearchSpace


def gumbel_hard(
    alpha: torch.Tensor, tau: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """A hard Gumbel-softmax sample per row: one-hot weights with the soft sample's gradient
    (straight-through), and the sampled index per row."""
    while True:
        noise = torch.empty_like(alpha).exponential_(generator=generator)
        gumbels = -noise.log()
        soft = torch.softmax((alpha.log_softmax(dim=-1) + gumbels) / tau, dim=-1)
        if torch.isfinite(gumbels).all() and torch.isfinite(soft).all():
            break
    index = soft.argmax(dim=-1)
    one_hot = torch.zeros_like(soft).scatter_(-1, index.unsqueeze(-1), 1.0)
    return one_hot - soft.detach() + soft, index


class GDAS(OneShotMethod):
    """GDAS on the space's supernet: one Gumbel-sampled path per step."""

    name = "gdas"
    default_track_running_stats = True
    uses_partial_channels = False  # one path per step is already small

    def __init__(
        self,
        space: SearchSpace,
        *,
        tau_max: float = 10.0,
        tau_min: float = 0.1,
        add_unselected: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(space, **options)
        self.add_unselected = add_unselected
        if not 0 < tau_min <= tau_max:
            raise OneShotError(f"GDAS needs 0 < tau_min <= tau_max, not {tau_min}, {tau_max}")
        self.tau_max = tau_max
        self.tau_min = tau_min

    def on_epoch_start(self, epoch: int, model: nn.Module) -> None:
        super().on_epoch_start(epoch, model)
        span = max(self.epochs_ - 1, 1)
        self.tau_ = self.tau_max - (self.tau_max - self.tau_min) * epoch / span

    def _arch_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        hard, index = gumbel_hard(self._logits(), self.tau_, self.generator_)
        self.supernet_.use_path(index.tolist(), weights=hard, add_unselected=self.add_unselected)
        return self._cross_entropy(x, y)

    def _use_weight_mode(self) -> None:
        with torch.no_grad():
            _, index = gumbel_hard(self._logits(), self.tau_, self.generator_)
        self.supernet_.use_path(index.tolist())

    def _memory_probes(self, supernet: SuperNet, alpha: torch.Tensor) -> Sequence[Probe]:
        """Every path that repeats one op on all edges: the largest bounds a sampled path."""
        edges, ops = supernet.shape

        def probe(op: int) -> Probe:
            def run(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
                weights = torch.softmax(alpha, dim=-1)
                supernet.use_path([op] * edges, weights=weights)
                return F.cross_entropy(supernet(x), y)

            return run

        return [probe(op) for op in range(ops)]
