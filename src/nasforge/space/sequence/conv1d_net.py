"""The network of the `conv1d` space: residual-capable Conv1d blocks, pooling, a linear head."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class Residual(nn.Module):
    """``body(x) + shortcut(x)``."""

    def __init__(self, body: nn.Module, shortcut: nn.Module) -> None:
        super().__init__()
        self.body = body
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(x) + self.shortcut(x)
        return out


def conv_block(c_in: int, c_out: int, kernel: int, residual: bool) -> nn.Module:
    """``Conv1d -> BatchNorm1d -> ReLU`` keeping the length; plus a shortcut if `residual`.

    The shortcut is the identity, or a bias-free 1x1 convolution when ``c_in != c_out``.
    """
    body = nn.Sequential(
        nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm1d(c_out),
        nn.ReLU(),
    )
    if not residual:
        return body
    shortcut = nn.Identity() if c_in == c_out else nn.Conv1d(c_in, c_out, 1, bias=False)
    return Residual(body, shortcut)


def conv1d_network(
    blocks: Sequence[tuple[int, int]],
    *,
    pool: str,
    skip: bool,
    in_channels: int,
    length: int,
    num_classes: int,
) -> nn.Sequential:
    """Blocks ``(channels, kernel)``, each followed by stride-2 pooling while length >= 2,
    then a global average pool and a linear head."""
    layers: list[nn.Module] = []
    c_in = in_channels
    for c_out, kernel in blocks:
        layers.append(conv_block(c_in, c_out, kernel, residual=skip))
        if pool != "none" and length >= 2:
            layers.append(nn.MaxPool1d(2) if pool == "max" else nn.AvgPool1d(2))
            length //= 2
        c_in = c_out
    layers += [nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(c_in, num_classes)]
    return nn.Sequential(*layers)
