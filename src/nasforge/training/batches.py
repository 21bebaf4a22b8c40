"""Batches of one epoch: the `EpochBatches` protocol the loop iterates, shuffled tensors held
in memory, and fixed evaluation batches."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sized
from typing import Protocol

import torch


class EpochBatches(Sized, Protocol):
    """Training batches ``(x, y)`` of one epoch, with their number."""

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]: ...


class ShuffledTensors:
    """Batches of tensors in memory, in a new order drawn from ``generator`` per pass."""

    def __init__(
        self, x: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator
    ) -> None:
        self.x, self.y, self.batch_size, self.generator = x, y, batch_size, generator

    def __len__(self) -> int:
        return math.ceil(len(self.y) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(self.y), generator=self.generator)
        for batch in torch.split(order, self.batch_size):
            yield self.x[batch], self.y[batch]


def split_batches(
    x: torch.Tensor, y: torch.Tensor, size: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return list(zip(torch.split(x, size), torch.split(y, size), strict=True))
