"""A small CNN search space: width, depth (a repeat), and per block a kernel, an op and a skip."""

import torch
from torch import nn

from nasforge.space.choices import Choices


def conv(width: int, k: int, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(width, width, k, padding=k // 2, groups=groups, bias=False)


class Block(nn.Module):
    def __init__(self, choices: Choices, i: int, width: int) -> None:
        super().__init__()
        k = choices.choose_value(f"kernel_{i}", [3, 5])
        sep = lambda: nn.Sequential(conv(width, k, width), nn.Conv2d(width, width, 1))  # noqa: E731
        self.op = choices.choose_module(f"op_{i}", {"conv": lambda: conv(width, k), "sep": sep})
        self.bn = nn.BatchNorm2d(width)
        self.skip = choices.choose_value(f"skip_{i}", [False, True])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn(self.op(x)))
        return out + x if self.skip else out


class SmallCNN(nn.Module):
    def __init__(self, choices: Choices, input_shape: tuple[int, ...], num_classes: int) -> None:
        super().__init__()
        width = choices.choose_value("width", [16, 32])
        stem = nn.Conv2d(input_shape[0], width, 3, padding=1)
        self.stem = nn.Sequential(stem, nn.BatchNorm2d(width), nn.ReLU())
        self.blocks = choices.repeat("depth", [1, 2, 3], lambda i: Block(choices, i, width))
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.blocks(self.stem(x)).mean((2, 3)))
        return out
