"""Compound scaling of a `mobilenet` arch (Tan and Le, 2019): depth by alpha^phi, width by
beta^phi, input resolution by gamma^phi.

The scaled arch lives in a scaled space (`width_mult`, `depth_mult` and `resolution`
multiplied), where each stage keeps the same choice: the i-th width and the i-th depth of
the stage's choices, which the scaled space rounds as the reference does (widths to
multiples of 8, depths up). A stage that grows deeper repeats its last block, as
EfficientNet repeats a stage's block; blocks it already had keep their kernel, expansion and
squeeze-and-excitation.
"""

from __future__ import annotations

from nasforge.arch import Arch, Choice
from nasforge.errors import SpaceError
from nasforge.space.mobilenet.names import (
    MIN_RESOLUTION,
    STRIDES,
    block_label,
    depth_label,
    width_label,
)
from nasforge.space.mobilenet.space import MobileNetSpace

BLOCK_FIELDS = ("kernel", "expand", "se")


def scaled_resolution(base: int, factor: float) -> int:
    """`base` x `factor` rounded to a multiple of 8 (at least the space's minimum)."""
    return max(MIN_RESOLUTION, round(base * factor / 8.0) * 8)


def scale_arch(
    space: MobileNetSpace,
    arch: Arch,
    *,
    depth: float,
    width: float,
    resolution: int,
) -> tuple[MobileNetSpace, Arch]:
    """`arch` of `space` with depths x `depth`, widths x `width`, input resized to
    `resolution` pixels: the scaled space and the arch in it."""
    if depth <= 0 or width <= 0:
        raise SpaceError(f"scaling factors must be > 0, not depth {depth} and width {width}")
    arch = space.validate(arch)
    options = space.config()
    options.update(
        width_mult=space.width_mult * width,
        depth_mult=space.depth_mult * depth,
        resolution=resolution,
    )
    bigger = MobileNetSpace(**options)
    values: dict[str, Choice] = {"activation": arch["activation"]}
    for s in range(1, len(STRIDES) + 1):
        for label, choices, scaled in (
            (width_label(s), space.stage_widths[s - 1], bigger.stage_widths[s - 1]),
            (depth_label(s), space.stage_depths[s - 1], bigger.stage_depths[s - 1]),
        ):
            index = choices.index(arch[label])
            values[label] = scaled[min(index, len(scaled) - 1)]  # equal roundings merge
        base_depth = int(arch[depth_label(s)])
        for b in range(max(bigger.stage_depths[s - 1])):
            source = min(b, base_depth - 1)
            for field in BLOCK_FIELDS:
                values[block_label(s, b, field)] = arch[block_label(s, source, field)]
    return bigger, bigger.canonical(Arch(values))
