"""The names and numbers of the `mobilenet` space: stage strides, default widths and
depths, the published scalings (EfficientNet B0-B4, MobileNetV2), the rounding of scaled
widths and depths of the reference implementations, and the decisions' labels."""

from __future__ import annotations

import math
from typing import Any

STRIDES: tuple[int, ...] = (1, 2, 2, 2, 1, 2, 1)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
ACTIVATIONS: tuple[str, ...] = ("swish", "relu6")
DEFAULT_WIDTHS: tuple[tuple[int, ...], ...] = (
    (16,),
    (16, 24, 32),
    (32, 40, 48),
    (64, 80, 96),
    (96, 112, 128),
    (160, 192, 224),
    (320,),
)
DEFAULT_DEPTHS: tuple[tuple[int, ...], ...] = (
    (1,),
    (1, 2, 3, 4),
    (1, 2, 3, 4),
    (1, 2, 3, 4),
    (1, 2, 3, 4),
    (1, 2, 3, 4),
    (1,),
)
MIN_RESOLUTION = 32
"""Five stride-2 steps: below 32 pixels the last stages would see less than one pixel."""

# (width, depth, resolution, dropout) of Tan and Le (2019), as in their reference code.
EFFICIENTNET_SCALING: dict[str, tuple[float, float, int, float]] = {
    "efficientnet-b0": (1.0, 1.0, 224, 0.2),
    "efficientnet-b1": (1.0, 1.1, 240, 0.2),
    "efficientnet-b2": (1.1, 1.2, 260, 0.3),
    "efficientnet-b3": (1.2, 1.4, 300, 0.3),
    "efficientnet-b4": (1.4, 1.8, 380, 0.4),
}
NAMED_OPTIONS: dict[str, dict[str, Any]] = {
    "mobilenetv2": {"width_mult": 1.0, "depth_mult": 1.0},
    **{
        name: {"width_mult": width, "depth_mult": depth, "resolution": resolution}
        for name, (width, depth, resolution, _) in EFFICIENTNET_SCALING.items()
    },
}
# Per stage (expansion, kernel, base width, base depth): EfficientNet-B0 (Tan and Le 2019,
# Table 1) and MobileNetV2 (Sandler et al. 2018, Table 2).
EFFICIENTNET_B0 = ((1, 3, 16, 1), (6, 3, 24, 2), (6, 5, 40, 2), (6, 3, 80, 3), (6, 5, 112, 3),
                   (6, 5, 192, 4), (6, 3, 320, 1))  # fmt: skip
MOBILENET_V2 = ((1, 3, 16, 1), (6, 3, 24, 2), (6, 3, 32, 3), (6, 3, 64, 4), (6, 3, 96, 3),
                (6, 3, 160, 3), (6, 3, 320, 1))  # fmt: skip


def round_channels(channels: float, divisor: int = 8) -> int:
    """Channels rounded to a multiple of `divisor`, never down by more than 10% (the
    ``round_filters`` / ``_make_divisible`` of the EfficientNet and MobileNetV2 references)."""
    rounded = max(divisor, int(channels + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * channels:
        rounded += divisor
    return rounded


def round_depth(depth: int, depth_mult: float) -> int:
    """Blocks of a stage after depth scaling: rounded up (``round_repeats``)."""
    return math.ceil(depth_mult * depth)


def width_label(stage: int) -> str:
    return f"stage{stage}_width"


def depth_label(stage: int) -> str:
    return f"stage{stage}_depth"


def block_label(stage: int, block: int, what: str) -> str:
    return f"stage{stage}_block{block}_{what}"
