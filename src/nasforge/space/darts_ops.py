"""The operations of the NASNet/DARTS cell space, as the DARTS paper defines them
(Liu et al., ICLR 2019, section 3.1 and appendix A.1), written from that description:

- ``sep_conv_KxK``: ReLU, depthwise KxK, pointwise 1x1, BN, applied twice (the second time
  with stride 1);
- ``dil_conv_KxK``: ReLU, depthwise KxK dilated by 2, pointwise 1x1, BN;
- ``max_pool_3x3``, ``avg_pool_3x3`` (the average leaves padding out);
- ``skip_connect``: identity, or a factorized reduction (two strided 1x1 convolutions on
  offset grids, concatenated, BN) when the op reduces;
- ``none``: zero;
- NASNet's and AmoebaNet's own: ``sep_conv_7x7`` and ``conv_7x1_1x7`` (ReLU, a 1x7 then a
  7x1 convolution, BN).

Convolutions have no bias; BatchNorm is affine (a supernet may rebuild its candidates'
BatchNorm, `ChoiceSuperNet`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from nasforge.errors import ArchError
from nasforge.space.choices import Zero
from nasforge.space.darts_names import ALL_OPS


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out),
        )


class DilConv(nn.Sequential):
    def __init__(self, c: int, kernel: int, stride: int, padding: int, dilation: int) -> None:
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(
                c,
                c,
                kernel,
                stride=stride,
                padding=padding,
                dilation=dilation,
                groups=c,
                bias=False,
            ),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c),
        )


class SepConv(nn.Sequential):
    def __init__(self, c: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(c, c, kernel, stride=stride, padding=padding, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(),
            nn.Conv2d(c, c, kernel, stride=1, padding=padding, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c),
        )


class FactorizedReduce(nn.Module):
    """Halve height and width: ReLU, two 1x1 convolutions of stride 2 on grids offset by
    one pixel, concatenated (each gives half of ``c_out``), BN."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        if c_out % 2:
            raise ArchError(f"a factorized reduction needs an even channel count, not {c_out}")
        self.relu = nn.ReLU()
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = x[:, :, 1:, 1:]
        if shifted.shape[-1] < 1 or shifted.shape[-2] < 1:
            shifted = x
        second = self.conv_2(shifted)
        first = self.conv_1(x)
        if second.shape[-2:] != first.shape[-2:]:  # odd sizes: pad the offset grid
            second = nn.functional.pad(
                second,
                (0, first.shape[-1] - second.shape[-1], 0, first.shape[-2] - second.shape[-2]),
            )
        out: torch.Tensor = self.bn(torch.cat([first, second], dim=1))
        return out


class Conv7x1x7(nn.Sequential):
    def __init__(self, c: int, stride: int) -> None:
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(c, c, (1, 7), stride=(1, stride), padding=(0, 3), bias=False),
            nn.Conv2d(c, c, (7, 1), stride=(stride, 1), padding=(3, 0), bias=False),
            nn.BatchNorm2d(c),
        )


def make_op(name: str, channels: int, stride: int) -> nn.Module:
    """The module of op `name` on `channels` channels (``stride`` 2 reduces)."""
    factories: dict[str, Callable[[], nn.Module]] = {
        "none": Zero,
        "max_pool_3x3": lambda: nn.MaxPool2d(3, stride=stride, padding=1),
        "avg_pool_3x3": lambda: nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False),
        "skip_connect": lambda: (
            nn.Identity() if stride == 1 else FactorizedReduce(channels, channels)
        ),
        "sep_conv_3x3": lambda: SepConv(channels, 3, stride, 1),
        "sep_conv_5x5": lambda: SepConv(channels, 5, stride, 2),
        "sep_conv_7x7": lambda: SepConv(channels, 7, stride, 3),
        "dil_conv_3x3": lambda: DilConv(channels, 3, stride, 2, 2),
        "dil_conv_5x5": lambda: DilConv(channels, 5, stride, 4, 2),
        "conv_7x1_1x7": lambda: Conv7x1x7(channels, stride),
    }
    if name not in factories:
        raise ArchError(f"unknown DARTS op {name!r}; expected one of {', '.join(ALL_OPS)}")
    return factories[name]()
