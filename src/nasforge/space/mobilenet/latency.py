"""Latency units of the `mobilenet` space: the pieces of a network a latency lookup table
times on their own (the stem, each MBConv block at its input size, the head), for one arch or
for every arch of a space (ProxylessNAS and FBNet time each candidate block per position)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from nasforge.arch import Arch
from nasforge.space.mobilenet.names import ACTIVATIONS, STRIDES

if TYPE_CHECKING:
    from nasforge.space.mobilenet.space import MobileNetSpace


@dataclass(frozen=True)
class LatencyUnit:
    """A piece of a network timed on its own for a latency lookup table: ``stem``, an MBConv
    block, or ``head``, with the spatial size of its input (ProxylessNAS and FBNet time each
    candidate block at each position's input size)."""

    kind: str
    """``stem``, ``block`` or ``head``."""
    size: int
    """Height (= width) of its input."""
    in_channels: int
    out_channels: int
    kernel: int = 0
    expand: int = 0
    se: bool = False
    stride: int = 1
    activation: str = "swish"

    @property
    def key(self) -> str:
        if self.kind == "block":
            return (
                f"block:{self.size}:{self.in_channels}>{self.out_channels}:k{self.kernel}"
                f":e{self.expand}:se{int(self.se)}:s{self.stride}:{self.activation}"
            )
        return f"{self.kind}:{self.size}:{self.in_channels}>{self.out_channels}:{self.activation}"


def latency_units(
    space: MobileNetSpace, arch: Arch, input_shape: tuple[int, ...], num_classes: int
) -> list[LatencyUnit]:
    """The stem, every active block and the head of `arch`, with their input sizes."""
    space.check_input(input_shape)
    activation = str(space.validate(arch)["activation"])
    size = space.resolution or int(input_shape[1])
    units = [
        LatencyUnit("stem", size, int(input_shape[0]), space.stem_channels, activation=activation)
    ]
    size = _halved(size)
    channels = space.stem_channels
    for block in space.blocks(arch):
        units.append(
            LatencyUnit(
                "block",
                size,
                block.in_channels,
                block.out_channels,
                block.kernel,
                block.expand,
                block.se,
                block.stride,
                activation,
            )
        )
        size = _halved(size) if block.stride == 2 else size
        channels = block.out_channels
    units.append(LatencyUnit("head", size, channels, num_classes, activation=activation))
    return units


def all_latency_units(
    space: MobileNetSpace, input_shape: tuple[int, ...], num_classes: int
) -> list[LatencyUnit]:
    """Every unit any arch of `space` can hold at this input: what a full table times."""
    space.check_input(input_shape)
    units: dict[str, LatencyUnit] = {}

    def add(unit: LatencyUnit) -> None:
        units.setdefault(unit.key, unit)

    size = space.resolution or int(input_shape[1])
    for activation in ACTIVATIONS:
        add(
            LatencyUnit(
                "stem", size, int(input_shape[0]), space.stem_channels, activation=activation
            )
        )
    size = _halved(size)
    previous: tuple[int, ...] = (space.stem_channels,)
    for s, stride in enumerate(STRIDES, start=1):
        widths, depths = space.stage_widths[s - 1], space.stage_depths[s - 1]
        expand = space.block_expansions(s)
        for activation in ACTIVATIONS:
            for kernel in space.kernels:
                for e in expand:
                    for se in (False, True):
                        for out in widths:
                            for cin in previous:
                                add(LatencyUnit("block", size, cin, out, kernel, e, se, stride,
                                                activation))  # fmt: skip
                            if max(depths) > 1:
                                out_size = _halved(size) if stride == 2 else size
                                add(LatencyUnit("block", out_size, out, out, kernel, e, se, 1,
                                                activation))  # fmt: skip
        size = _halved(size) if stride == 2 else size
        previous = widths
    for activation in ACTIVATIONS:
        for cin in previous:
            add(LatencyUnit("head", size, cin, num_classes, activation=activation))
    return list(units.values())


def stem_unit(size: int, in_channels: int, out_channels: int, activation: str) -> LatencyUnit:
    return LatencyUnit("stem", size, in_channels, out_channels, activation=activation)


def _halved(size: int) -> int:
    return (size + 1) // 2
