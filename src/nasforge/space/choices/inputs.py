"""Input choices: which k of n earlier tensors feed a node, in a child (`ChosenInputs`) and in
a supernet (`MixedInputs`: the weighted sum over every k-subset, or the chosen one)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from nasforge.errors import SpaceError
from nasforge.space.choices.mode import SuperMode

Reduction = Literal["sum", "mean"]


class ChosenInputs(nn.Module):
    """The chosen inputs of a node, reduced (a plain module with no parameters)."""

    def __init__(self, indices: Sequence[int], reduction: Reduction = "sum") -> None:
        super().__init__()
        self.indices = tuple(indices)
        self.reduction = reduction

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        return _reduce([inputs[i] for i in self.indices], self.reduction)

    def extra_repr(self) -> str:
        return f"indices={list(self.indices)}, reduction={self.reduction}"


class MixedInputs(nn.Module):
    """An input choice in a supernet: the weighted sum over every k-subset of the inputs,
    or the chosen subset."""

    def __init__(
        self, label: str, combos: Sequence[tuple[int, ...]], reduction: Reduction, mode: SuperMode
    ) -> None:
        super().__init__()
        self.label = label
        self.combos = tuple(combos)
        self.reduction = reduction
        self.mode = mode

    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        mode = self.mode
        weights = None if mode.weights is None else mode.weights.get(self.label)
        if mode.path is not None and self.label in mode.path:
            index = mode.path[self.label]
            out = _reduce([inputs[i] for i in self.combos[index]], self.reduction)
            return out if weights is None else weights[index] * out
        if weights is None:
            raise SpaceError(f"supernet has no weights and no path for choice {self.label!r}")
        total: torch.Tensor | None = None
        for index, combo in enumerate(self.combos):
            term = weights[index] * _reduce([inputs[i] for i in combo], self.reduction)
            total = term if total is None else total + term
        assert total is not None
        return total


def _reduce(tensors: list[torch.Tensor], reduction: Reduction) -> torch.Tensor:
    total = tensors[0]
    for tensor in tensors[1:]:
        total = total + tensor
    return total / len(tensors) if reduction == "mean" else total
