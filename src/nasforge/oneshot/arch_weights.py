"""Architecture weights (`Alpha`, one vector per decision): their gradients, the candidates
they weight, and the masks that leave candidates out (``exclude_ops``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from nasforge.oneshot.supernet import Alpha, SuperNet
from nasforge.space.choices.decision import ChoiceDecision


def gradients(loss: torch.Tensor, alpha: Alpha) -> Alpha:
    """The gradient of ``loss`` in each vector of ``alpha`` (zeros where it has none)."""
    grads = torch.autograd.grad(loss, list(alpha.values()), allow_unused=True)
    return {
        label: torch.zeros_like(tensor) if grad is None else grad
        for (label, tensor), grad in zip(alpha.items(), grads, strict=True)
    }


def choices_of(supernet: SuperNet, labels: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The candidates of each decision in ``labels``, as text (for diagnostics): the space's
    decisions and those only the supernet asks (the darts space's per-edge op vectors)."""
    return {
        d.label: tuple(str(c) for c in d.choices)
        for d in decisions_of(supernet)
        if d.label in labels
    }


def decisions_of(supernet: SuperNet) -> tuple[ChoiceDecision, ...]:
    """The space's decisions and those only the supernet asks (the darts space's per-edge op
    vectors, which the gradient methods weight)."""
    return (*supernet.decisions, *supernet.search_decisions)
