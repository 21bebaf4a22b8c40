"""The network of the `mobilenet` space: stem, MBConv blocks, head (MobileNetV2/EfficientNet),
written once with the choice primitives (`nasforge.space.choices`) for children and the
supernet alike.

Written as the references build it (torchvision's ``MobileNetV2`` and ``EfficientNet``):
convolutions without bias followed by BatchNorm; squeeze-and-excitation with biased 1x1
convolutions, squeezing to a quarter of the block's input channels, with the network's
activation then a sigmoid gate; a residual when stride is 1 and the channels stay.

The choices, by the labels `MobileNetSpace` lists:

- ``activation``: a module choice (SiLU or ReLU6) asked at every place an activation goes,
  one shared decision;
- ``stage{s}_width`` and ``stage{s}_depth``: value choices; a supernet holds the widest
  stage and shares its leading channels with narrower ones, and holds every block, of
  which a shallower stage runs the first ones (once-for-all's elastic width and depth);
- per block, ``..._expand``: a value choice (the hidden width, shared by slicing);
  ``..._kernel``: a module choice of depthwise convolutions, one per kernel size
  (ProxylessNAS's candidate ops, which DARTS-family methods can mix); ``..._se``: a module
  choice between no squeeze-and-excitation and one.

Every block's decisions are asked whatever the stage's depth, so that an arch holds all
of them as `MobileNetSpace` does; the blocks beyond the depth are built on the meta device
and left out of the network.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nasforge.arch import Choice
from nasforge.space.choices.primitives import Choices, fixed_choices
from nasforge.space.mobilenet.latency import LatencyUnit
from nasforge.space.mobilenet.names import (
    ACTIVATIONS,
    STRIDES,
    block_label,
    depth_label,
    width_label,
)
from nasforge.space.mobilenet.space import MobileNetSpace

BN_EPS = 1e-3


def activation_module(name: str) -> nn.Module:
    return nn.SiLU() if name == "swish" else nn.ReLU6()


def choose_activation(choices: Choices) -> nn.Module:
    """The shared ``activation`` decision, as a new module for one place in the network."""
    return choices.choose_module(
        "activation", {name: _activation_factory(name) for name in ACTIVATIONS}
    )


def _activation_factory(name: str) -> Any:
    return lambda: activation_module(name)


def conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout, eps=BN_EPS),
    )


class SqueezeExcitation(nn.Module):
    def __init__(self, channels: int, squeeze: int, activation: nn.Module) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, squeeze, 1)
        self.expand = nn.Conv2d(squeeze, channels, 1)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = F.adaptive_avg_pool2d(x, 1)
        scale = self.expand(self.activation(self.reduce(scale)))
        gated: torch.Tensor = x * torch.sigmoid(scale)
        return gated


class MBConv(nn.Module):
    """Inverted residual: expand (1x1, none at expansion 1), depthwise (k x k), optional SE,
    project (1x1). ``labels`` is the (stage, block) whose decisions it asks."""

    def __init__(
        self,
        choices: Choices,
        labels: tuple[int, int],
        in_channels: int,
        out_channels: int,
        stride: int,
        *,
        kernels: Sequence[int],
        expansions: Sequence[int],
    ) -> None:
        super().__init__()
        stage, block = labels
        expand = choices.choose_value(block_label(stage, block, "expand"), list(expansions))
        hidden = in_channels * expand
        expand_activation = choose_activation(choices)
        self.expand = (
            nn.Sequential(*conv_bn(in_channels, hidden, 1), expand_activation)
            if expand != 1
            else None
        )
        self.depthwise = choices.choose_module(
            block_label(stage, block, "kernel"),
            {k: _depthwise_factory(hidden, k, stride) for k in kernels},
        )
        self.depthwise_activation = choose_activation(choices)
        se_activation = choose_activation(choices)
        squeeze = max(1, in_channels // 4)
        se_candidates: dict[bool, Callable[[], nn.Module]] = {
            False: nn.Identity,
            True: lambda: SqueezeExcitation(hidden, squeeze, se_activation),
        }
        self.se = choices.choose_module(block_label(stage, block, "se"), se_candidates)
        self.project = conv_bn(hidden, out_channels, 1)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x if self.expand is None else self.expand(x)
        out = self.depthwise_activation(self.depthwise(out))
        out = self.project(self.se(out))
        result: torch.Tensor = out + x if self.residual else out
        return result


def _depthwise_factory(hidden: int, kernel: int, stride: int) -> Any:
    return lambda: conv_bn(hidden, hidden, kernel, stride, groups=hidden)


class MobileNetNetwork(nn.Module):
    """Stem, stages of MBConv blocks, head; inputs resized to the space's ``resolution``
    first when it is set. ``space_options`` are `MobileNetSpace`'s."""

    def __init__(
        self,
        choices: Choices,
        input_shape: tuple[int, ...] = (3, 32, 32),
        num_classes: int = 10,
        **space_options: Any,
    ) -> None:
        super().__init__()
        space = MobileNetSpace(**space_options)
        self.resolution = space.resolution
        self.stem = nn.Sequential(
            *conv_bn(int(input_shape[0]), space.stem_channels, 3, 2), choose_activation(choices)
        )
        channels = space.stem_channels
        stages: list[nn.Module] = []
        for s, stride in enumerate(STRIDES, start=1):
            width = choices.choose_value(width_label(s), list(space.stage_widths[s - 1]))
            depth = choices.choose_value(depth_label(s), list(space.stage_depths[s - 1]))
            blocks: list[nn.Module] = []
            for b in range(max(space.stage_depths[s - 1])):
                place = torch.device("meta") if b >= depth else contextlib.nullcontext()
                with place:
                    block = MBConv(
                        choices,
                        (s, b),
                        channels if b == 0 else width,
                        width,
                        stride if b == 0 else 1,
                        kernels=space.kernels,
                        expansions=space.block_expansions(s),
                    )
                if b < depth:
                    blocks.append(block)
            stages.append(nn.Sequential(*blocks))
            channels = width
        self.stages = nn.Sequential(*stages)
        self.head = nn.Sequential(
            *conv_bn(channels, space.head_channels, 1), choose_activation(choices)
        )
        self.dropout = nn.Dropout(space.dropout)
        self.classifier = nn.Linear(space.head_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.resolution and tuple(x.shape[-2:]) != (self.resolution, self.resolution):
            x = F.interpolate(
                x, size=(self.resolution, self.resolution), mode="bilinear", align_corners=False
            )
        x = self.head(self.stages(self.stem(x)))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        logits: torch.Tensor = self.classifier(self.dropout(x))
        return logits


def unit_module(unit: LatencyUnit, space: MobileNetSpace) -> nn.Module:
    """The module a latency lookup table times for `unit` (input ``(in, size, size)``)."""
    activation = activation_module(unit.activation)
    if unit.kind == "stem":
        return nn.Sequential(*conv_bn(unit.in_channels, unit.out_channels, 3, 2), activation)
    if unit.kind == "block":
        answers: dict[str, Choice] = {
            "activation": unit.activation,
            block_label(1, 0, "kernel"): unit.kernel,
            block_label(1, 0, "expand"): unit.expand,
            block_label(1, 0, "se"): unit.se,
        }
        return MBConv(
            fixed_choices(answers),
            (1, 0),
            unit.in_channels,
            unit.out_channels,
            unit.stride,
            kernels=(unit.kernel,),
            expansions=(unit.expand,),
        )
    return nn.Sequential(
        *conv_bn(unit.in_channels, space.head_channels, 1),
        activation,
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(space.dropout),
        nn.Linear(space.head_channels, unit.out_channels),
    )
