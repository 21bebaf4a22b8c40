"""GDAS: searching with a differentiable sampler (Dong and Yang, CVPR 2019).

Each step samples one candidate per decision (per vector of alpha: module and input choices)
with the Gumbel-softmax trick at temperature ``tau``
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

from collections.abc import Mapping, Sequence
from typing import Any, overload

import torch
import torch.nn.functional as F
from torch import nn

from nasforge.oneshot.errors import OneShotError
from nasforge.oneshot.memory import Probe
from nasforge.oneshot.method import OneShotMethod
from nasforge.oneshot.sampling import repeated_paths
from nasforge.oneshot.supernet import Alpha, SuperNet
from nasforge.space.base import SearchSpace


@overload
def gumbel_hard(
    alpha: torch.Tensor, tau: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]: ...


@overload
def gumbel_hard(
    alpha: Mapping[str, torch.Tensor], tau: float, generator: torch.Generator
) -> tuple[Alpha, dict[str, int]]: ...


def gumbel_hard(
    alpha: torch.Tensor | Mapping[str, torch.Tensor], tau: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor] | tuple[Alpha, dict[str, int]]:
    """A hard Gumbel-softmax sample per vector of ``alpha`` (by label, or per row of a
    matrix): one-hot weights with the soft sample's gradient (straight-through), and the
    sampled index. The noise of all vectors is drawn at once, in their order."""
    if isinstance(alpha, torch.Tensor):
        return _gumbel_rows(alpha, tau, generator)
    labels = list(alpha)
    sizes = [alpha[label].numel() for label in labels]
    while True:
        noise = torch.empty(sum(sizes)).exponential_(generator=generator)
        noise = noise.to(next(iter(alpha.values())).device)
        gumbels = -noise.log()
        softs = [
            torch.softmax((alpha[label].log_softmax(dim=-1) + g) / tau, dim=-1)
            for label, g in zip(labels, torch.split(gumbels, sizes), strict=True)
        ]
        if torch.isfinite(gumbels).all() and all(torch.isfinite(x).all() for x in softs):
            break
    hard: Alpha = {}
    index: dict[str, int] = {}
    for label, soft in zip(labels, softs, strict=True):
        chosen = int(soft.argmax())
        one_hot = torch.zeros_like(soft)
        one_hot[chosen] = 1.0
        hard[label] = one_hot - soft.detach() + soft
        index[label] = chosen
    return hard, index


def _gumbel_rows(
    alpha: torch.Tensor, tau: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    while True:
        noise = torch.empty(alpha.shape).exponential_(generator=generator).to(alpha.device)
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
        self.supernet_.use_path(index, weights=hard, add_unselected=self.add_unselected)
        return self._cross_entropy(x, y)

    def _use_weight_mode(self) -> None:
        with torch.no_grad():
            _, index = gumbel_hard(self._logits(), self.tau_, self.generator_)
        self.supernet_.use_path(index)

    def _memory_probes(self, supernet: SuperNet, alpha: Alpha) -> Sequence[Probe]:
        """Every path that repeats one candidate index on all choices (the last where a
        choice has fewer), value choices at their largest: the largest bounds a sampled
        path."""

        def probe(path: dict[str, int]) -> Probe:
            def run(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
                weights = {label: torch.softmax(a, dim=-1) for label, a in alpha.items()}
                supernet.use_path(path, weights=weights)
                return F.cross_entropy(supernet(x), y)

            return run

        return [probe(path) for path in repeated_paths(supernet, supernet.mixed_labels)]
