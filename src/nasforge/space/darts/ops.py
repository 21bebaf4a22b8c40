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
BatchNorm, `ChoiceSuperNet`). In search (``make_op(..., search=True)``) a pooling op is
followed by a non-affine BatchNorm, as in DARTS's ``MixedOp``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from nasforge.errors import ArchError
from nasforge.space.choices.mixed import Zero
from nasforge.space.darts.names import ALL_OPS


class ReLUConvBN(nn.Sequential):
    def __init__(
        self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool = True
    ) -> None:
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
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


_FEWEST_STRIDED_CHANNELS = 8
"""Fewer input channels run a factorized reduction's strided 1x1 convolutions as stride-1
convolutions of every second pixel (the same numbers): oneDNN's backward of a 1x1
convolution of stride 2 on 2 or 4 channels corrupted the heap when the input or the weight
was channels-last (torch 2.13, CPU; 8 and more were fine), as a tiny supernet with
PC-DARTS's partial channels has them."""


class FactorizedReduce(nn.Module):
    """Halve height and width: ReLU, two 1x1 convolutions of stride 2 on grids offset by
    one pixel, concatenated (each gives half of ``c_out``), BN."""

    def __init__(self, c_in: int, c_out: int, affine: bool = True) -> None:
        super().__init__()
        if c_out % 2:
            raise ArchError(f"a factorized reduction needs an even channel count, not {c_out}")
        self.relu = nn.ReLU()
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = x[:, :, 1:, 1:]
        if shifted.shape[-1] < 1 or shifted.shape[-2] < 1:
            shifted = x
        second, first = self._conv(self.conv_2, shifted), self._conv(self.conv_1, x)
        if second.shape[-2:] != first.shape[-2:]:  # odd sizes: pad the offset grid
            second = nn.functional.pad(
                second,
                (0, first.shape[-1] - second.shape[-1], 0, first.shape[-2] - second.shape[-2]),
            )
        out: torch.Tensor = self.bn(torch.cat([first, second], dim=1))
        return out

    @staticmethod
    def _conv(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] >= _FEWEST_STRIDED_CHANNELS:
            out: torch.Tensor = conv(x)
            return out
        # the same numbers: a 1x1 convolution of stride 2 is one of stride 1 on every
        # second pixel
        return F.conv2d(x[:, :, ::2, ::2].contiguous(), conv.weight)


class Conv7x1x7(nn.Sequential):
    def __init__(self, c: int, stride: int) -> None:
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(c, c, (1, 7), stride=(1, stride), padding=(0, 3), bias=False),
            nn.Conv2d(c, c, (7, 1), stride=(stride, 1), padding=(3, 0), bias=False),
            nn.BatchNorm2d(c),
        )


def make_op(name: str, channels: int, stride: int, *, search: bool = False) -> nn.Module:
    """The module of op `name` on `channels` channels (``stride`` 2 reduces). With
    ``search``, a pooling op is followed by a BatchNorm without affine parameters, as in
    DARTS's and PC-DARTS's search (``MixedOp``), so pooled outputs enter the mixture at the
    scale of the convolutions; a child has none (it holds no parameters)."""
    op = _make_op(name, channels, stride)
    if search and "pool" in name:
        return nn.Sequential(op, nn.BatchNorm2d(channels, affine=False))
    return op


def _make_op(name: str, channels: int, stride: int) -> nn.Module:
    factories: dict[str, Callable[[], nn.Module]] = {
        "none": lambda: Zero(stride),
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
