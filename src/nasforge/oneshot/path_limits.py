"""Limits on the paths a single-path method (SPOS) trains and evolves: predicted latency
(`nasforge.oneshot.latency_loss.PathLatency`) and parameters (`PathParams`).

A limit says whether an arch fits (``fits``) and how to name it in a message (``text``).
SPOS samples its training paths uniformly among those that fit every limit (by
rejection) and evaluates only such archs in its evolution.
"""

from __future__ import annotations

from typing import Protocol

import torch

from nasforge.arch import Arch
from nasforge.errors import ArchError, SpaceError
from nasforge.oneshot.errors import OneShotError
from nasforge.space.base import SearchSpace

_CACHE_SIZE = 4096


class PathLimit(Protocol):
    text: str

    def fits(self, arch: Arch) -> bool: ...


class PathParams:
    """At most ``max_params`` parameters: counted on a child built on the meta device (no
    memory, no initialization), cached by arch. An arch the space cannot build does not
    fit."""

    def __init__(
        self,
        space: SearchSpace,
        input_shape: tuple[int, ...],
        num_classes: int,
        max_params: int,
    ) -> None:
        if max_params < 1:
            raise OneShotError(f"max_params must be >= 1, not {max_params}")
        self.space, self.input_shape, self.num_classes = space, input_shape, num_classes
        self.max_params = max_params
        self.text = f"params <= {max_params:,}"
        self._counts: dict[Arch, int | None] = {}

    def count(self, arch: Arch) -> int | None:
        """Parameters of ``arch`` (None if the space cannot build it)."""
        if arch not in self._counts:
            if len(self._counts) >= _CACHE_SIZE:
                self._counts.clear()
            try:
                with torch.device("meta"):
                    net = self.space.build(arch, self.input_shape, self.num_classes)
                self._counts[arch] = sum(p.numel() for p in net.parameters())
            except (ArchError, SpaceError):
                self._counts[arch] = None
        return self._counts[arch]

    def fits(self, arch: Arch) -> bool:
        count = self.count(arch)
        return count is not None and count <= self.max_params
