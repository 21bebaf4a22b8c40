"""The parameter count of a network."""

from __future__ import annotations

from torch import nn


def count_parameters(model: nn.Module) -> int:
    """Trainable and frozen parameters (buffers such as BatchNorm statistics are not counted;
    a parameter shared by several modules counts once)."""
    return sum(parameter.numel() for parameter in model.parameters())
