"""PC-DARTS (Xu et al., ICLR 2020): DARTS on partial channel connections.

Only 1/K of each mixed op's input channels go through its candidates (K=4 by default, the
paper's CIFAR-10 setting); the rest bypass them and the channels are shuffled
(`MixedModule`), which cuts the supernet's memory and time about K-fold. The paper's edge
normalization (a learned weight per incoming edge of a node, which makes the derivation
stable when channels are sampled) is what a space's input choices already are: in the
`darts` space every slot weights its candidate inputs (`DartsSpace`); `nb201` has no input
choices, so there PC-DARTS is DARTS with partial channels.
"""

from __future__ import annotations

from typing import Any

from nasforge.oneshot.darts import DARTS
from nasforge.space.base import SearchSpace

DEFAULT_PARTIAL_CHANNELS = 4


class PCDARTS(DARTS):
    name = "pc-darts"

    def __init__(
        self,
        space: SearchSpace,
        *,
        partial_channels: int = DEFAULT_PARTIAL_CHANNELS,
        **options: Any,
    ) -> None:
        super().__init__(space, partial_channels=partial_channels, **options)
