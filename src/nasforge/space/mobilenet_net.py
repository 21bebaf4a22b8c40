"""The network of the `mobilenet` space: stem, MBConv blocks, head (MobileNetV2/EfficientNet).

Written as the references build it (torchvision's ``MobileNetV2`` and ``EfficientNet``):
convolutions without bias followed by BatchNorm; squeeze-and-excitation with biased 1x1
convolutions, squeezing to a quarter of the block's input channels, with the network's
activation then a sigmoid gate; a residual when stride is 1 and the channels stay.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nasforge.space.mobilenet import BlockSpec, LatencyUnit, MobileNetSpace

BN_EPS = 1e-3


def activation_module(name: str) -> nn.Module:
    return nn.SiLU(inplace=True) if name == "swish" else nn.ReLU6(inplace=True)


def conv_bn_act(
    cin: int, cout: int, kernel: int, stride: int, activation: str | None, groups: int = 1
) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout, eps=BN_EPS),
    ]
    if activation is not None:
        layers.append(activation_module(activation))
    return nn.Sequential(*layers)


class SqueezeExcitation(nn.Module):
    def __init__(self, channels: int, squeeze: int, activation: str) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, squeeze, 1)
        self.expand = nn.Conv2d(squeeze, channels, 1)
        self.activation = activation_module(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = F.adaptive_avg_pool2d(x, 1)
        scale = self.expand(self.activation(self.reduce(scale)))
        gated: torch.Tensor = x * torch.sigmoid(scale)
        return gated


class MBConv(nn.Module):
    """Inverted residual: expand (1x1), depthwise (k x k), optional SE, project (1x1)."""

    def __init__(self, spec: BlockSpec, activation: str) -> None:
        super().__init__()
        hidden = spec.in_channels * spec.expand
        layers: list[nn.Module] = []
        if spec.expand != 1:
            layers.append(conv_bn_act(spec.in_channels, hidden, 1, 1, activation))
        layers.append(
            conv_bn_act(hidden, hidden, spec.kernel, spec.stride, activation, groups=hidden)
        )
        if spec.se:
            layers.append(SqueezeExcitation(hidden, max(1, spec.in_channels // 4), activation))
        layers.append(conv_bn_act(hidden, spec.out_channels, 1, 1, None))
        self.body = nn.Sequential(*layers)
        self.residual = spec.stride == 1 and spec.in_channels == spec.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(x)
        return out + x if self.residual else out


class MobileNetNetwork(nn.Module):
    """Stem, `blocks`, head; inputs resized to `resolution` first when it is set."""

    def __init__(
        self,
        blocks: Sequence[BlockSpec],
        *,
        activation: str,
        in_channels: int,
        stem_channels: int,
        head_channels: int,
        num_classes: int,
        resolution: int = 0,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.resolution = resolution
        self.stem = conv_bn_act(in_channels, stem_channels, 3, 2, activation)
        self.blocks = nn.Sequential(*(MBConv(spec, activation) for spec in blocks))
        last = blocks[-1].out_channels if blocks else stem_channels
        self.head = conv_bn_act(last, head_channels, 1, 1, activation)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(head_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.resolution and tuple(x.shape[-2:]) != (self.resolution, self.resolution):
            x = F.interpolate(
                x, size=(self.resolution, self.resolution), mode="bilinear", align_corners=False
            )
        x = self.head(self.blocks(self.stem(x)))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        logits: torch.Tensor = self.classifier(self.dropout(x))
        return logits


def unit_module(unit: LatencyUnit, space: MobileNetSpace) -> nn.Module:
    """The module a latency lookup table times for `unit` (input ``(in, size, size)``)."""
    if unit.kind == "stem":
        return conv_bn_act(unit.in_channels, unit.out_channels, 3, 2, unit.activation)
    if unit.kind == "block":
        spec = BlockSpec(
            stage=0, in_channels=unit.in_channels, out_channels=unit.out_channels,
            kernel=unit.kernel, expand=unit.expand, se=unit.se, stride=unit.stride,
        )  # fmt: skip
        return MBConv(spec, unit.activation)
    return nn.Sequential(
        conv_bn_act(unit.in_channels, space.head_channels, 1, 1, unit.activation),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(space.dropout),
        nn.Linear(space.head_channels, unit.out_channels),
    )
