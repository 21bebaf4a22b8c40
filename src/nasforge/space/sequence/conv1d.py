"""A 1-D convolutional space for sequences of shape ``(channels, length)`` (e.g. mnist1d).

The network: ``depth`` blocks of ``Conv1d -> BatchNorm1d -> ReLU`` ("same" padding), each
optionally residual (a 1x1 convolution on the shortcut when the channel count changes) and
followed by a stride-2 pooling while the length is at least 2; then a global average pool and
a linear head. Decisions::

    depth=2,channels_0=16,kernel_0=3,channels_1=32,kernel_1=5,...,pool=max,skip=true

Blocks at or beyond ``depth`` are inactive: `canonical` sets their decisions to the first
choices, so that archs building the same network compare equal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nasforge.arch import Arch
from nasforge.errors import SpaceError
from nasforge.space.base import Decision, SearchSpace

if TYPE_CHECKING:
    from torch import nn

POOLS: tuple[str, ...] = ("none", "max", "avg")


class Conv1DSpace(SearchSpace):
    """Depth, per-block channels and kernel size, pooling and residual connections."""

    name = "conv1d"

    def __init__(
        self,
        max_blocks: int = 4,
        channels: Sequence[int] = (16, 32, 64),
        kernels: Sequence[int] = (3, 5, 7),
        pools: Sequence[str] = POOLS,
    ) -> None:
        if max_blocks < 1:
            raise SpaceError(f"conv1d needs max_blocks >= 1, not {max_blocks}")
        if not channels or any(not _is_int(c) or c < 1 for c in channels):
            raise SpaceError(f"conv1d channels must be positive integers, not {list(channels)}")
        if not kernels or any(not _is_int(k) or k < 1 or k % 2 == 0 for k in kernels):
            raise SpaceError(
                f"conv1d kernels must be odd positive integers (to keep the length), "
                f"not {list(kernels)}"
            )
        if not pools or any(pool not in POOLS for pool in pools):
            raise SpaceError(
                f"conv1d pools must be a non-empty list from {', '.join(POOLS)}, not {list(pools)}"
            )
        self.max_blocks = max_blocks
        self.channels = tuple(channels)
        self.kernels = tuple(kernels)
        self.pools = tuple(pools)
        per_block = []
        for i in range(max_blocks):
            per_block += [
                Decision(f"channels_{i}", self.channels),
                Decision(f"kernel_{i}", self.kernels),
            ]
        self._decisions = (
            Decision("depth", tuple(range(1, max_blocks + 1))),
            *per_block,
            Decision("pool", self.pools),
            Decision("skip", (False, True)),
        )

    @property
    def decisions(self) -> Sequence[Decision]:
        return self._decisions

    def config(self) -> dict[str, Any]:
        return {
            "max_blocks": self.max_blocks,
            "channels": list(self.channels),
            "kernels": list(self.kernels),
            "pools": list(self.pools),
        }

    def canonical(self, arch: Arch) -> Arch:
        """Inactive blocks (at or beyond ``depth``) get the first channel and kernel choices."""
        arch = self.validate(arch)
        inactive: dict[str, int] = {}
        for i in range(int(arch["depth"]), self.max_blocks):
            inactive[f"channels_{i}"] = self.channels[0]
            inactive[f"kernel_{i}"] = self.kernels[0]
        return arch.replace(**inactive)

    def blocks(self, arch: Arch) -> tuple[tuple[int, int], ...]:
        """``(channels, kernel)`` of every active block, first to last."""
        arch = self.validate(arch)
        return tuple(
            (int(arch[f"channels_{i}"]), int(arch[f"kernel_{i}"]))
            for i in range(int(arch["depth"]))
        )

    def build(
        self, arch: Arch, input_shape: tuple[int, ...] = (1, 40), num_classes: int = 10
    ) -> nn.Module:
        from nasforge.space.sequence.conv1d_net import conv1d_network

        self.check_input(input_shape)
        arch = self.validate(arch)
        return conv1d_network(
            self.blocks(arch),
            pool=str(arch["pool"]),
            skip=bool(arch["skip"]),
            in_channels=input_shape[0],
            length=input_shape[1],
            num_classes=num_classes,
        )

    def check_input(self, input_shape: tuple[int, ...]) -> None:
        if len(input_shape) != 2 or min(input_shape) < 1:
            raise SpaceError(
                "space 'conv1d' needs sequences (channels, length), "
                f"not input shape {tuple(input_shape)}"
            )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
