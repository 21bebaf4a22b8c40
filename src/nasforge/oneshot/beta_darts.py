"""beta-DARTS: Beta-Decay regularization against DARTS's collapse (Ye et al., CVPR 2022).

DARTS on NAS-Bench-201 drifts to cells of skip connections. beta-DARTS adds to the
architecture loss the Beta-Decay term, the mean over decisions (edges) of
``logsumexp(alpha_e)``, with a weight that grows linearly over the epochs::

    L = L_val + lambda_t * mean_e logsumexp(alpha_e),   lambda_t = lambda_max * t / lambda_epochs

(``t`` the epoch from 0). Its gradient in ``alpha_e`` is ``softmax(alpha_e) / decisions``:
it pulls large architecture parameters down and keeps their softmax from saturating early.
As the authors' code (``weights = 0 + 50 * epoch / 100``, whatever the epochs):
``lambda_max = 50``, ``lambda_epochs = 100`` (so at 50 epochs the weight reaches 25; set
``lambda_epochs`` to the epochs for a weight that reaches ``lambda_max``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from nasforge.oneshot.darts import DARTS
from nasforge.oneshot.errors import OneShotError
from nasforge.space.base import SearchSpace


def beta_decay(alpha: Mapping[str, torch.Tensor] | torch.Tensor) -> torch.Tensor:
    """The Beta-Decay regularization: the mean over decisions of the ``logsumexp`` of their
    vector (``alpha`` by label, or a matrix with one row per decision)."""
    vectors = list(alpha.values()) if isinstance(alpha, Mapping) else list(alpha)
    return torch.stack([torch.logsumexp(v, dim=-1) for v in vectors]).mean()


class BetaDARTS(DARTS):
    """DARTS (first order by default) with the Beta-Decay regularization."""

    name = "beta-darts"

    def __init__(
        self,
        space: SearchSpace,
        *,
        lambda_max: float = 50.0,
        lambda_epochs: int = 100,
        **options: Any,
    ) -> None:
        super().__init__(space, **options)
        if not lambda_max >= 0:
            raise OneShotError(f"beta-darts lambda_max must be >= 0, not {lambda_max}")
        if not lambda_epochs >= 1:
            raise OneShotError(f"beta-darts lambda_epochs must be >= 1, not {lambda_epochs}")
        self.lambda_max = lambda_max
        self.lambda_epochs = lambda_epochs

    def on_epoch_start(self, epoch: int, model: nn.Module) -> None:
        super().on_epoch_start(epoch, model)
        self.lambda_ = self.lambda_max * epoch / self.lambda_epochs

    def _regularization(self) -> torch.Tensor | None:
        return self.lambda_ * beta_decay(self.alpha_)
