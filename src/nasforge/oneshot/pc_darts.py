"""PC-DARTS (Xu et al., ICLR 2020): DARTS on partial channel connections.

Only 1/K of each mixed op's input channels go through its candidates (K=4 by default, the
paper's CIFAR-10 setting); the rest bypass them, max-pooled 2x2 on a reducing edge, and the
channels are shuffled (`MixedModule`), which cuts the supernet's memory and time about
K-fold. As in the authors' ``train_search.py``: architecture Adam at lr 6e-4 (weight decay
1e-3), no architecture step before epoch 15 of 50 (``warmup_epochs=None``: 30% of the
epochs given, rounded; an integer sets it), and the weights' cosine schedule to 0
(``learning_rate_min`` 0 there; DARTS's is 0.001).

Departures: the paper's edge normalization (a learned weight per incoming edge of a node)
is not applied (the darts supernet sums a node's edges, as DARTS does); the weights train
at lr 0.025 with batch 64 (the paper: 0.1 with batch 256).
"""

from __future__ import annotations

from typing import Any

from nasforge.oneshot.darts import DARTS
from nasforge.space.base import SearchSpace

DEFAULT_PARTIAL_CHANNELS = 4
ARCH_LR = 6e-4
WARMUP_SHARE = 15 / 50
"""PC-DARTS's architecture steps start at epoch 15 of 50."""


class PCDARTS(DARTS):
    name = "pc-darts"

    def __init__(
        self,
        space: SearchSpace,
        *,
        partial_channels: int = DEFAULT_PARTIAL_CHANNELS,
        arch_lr: float = ARCH_LR,
        warmup_epochs: int | None = None,
        eta_min: float = 0.0,
        **options: Any,
    ) -> None:
        super().__init__(
            space,
            partial_channels=partial_channels,
            arch_lr=arch_lr,
            eta_min=eta_min,
            warmup_epochs=0 if warmup_epochs is None else warmup_epochs,
            **options,
        )
        self.paper_warmup = warmup_epochs is None

    def _warmup(self, epochs: int) -> int:
        """30% of the epochs (15 of 50, as the paper) unless ``warmup_epochs`` was given."""
        return round(WARMUP_SHARE * epochs) if self.paper_warmup else self.warmup_epochs
