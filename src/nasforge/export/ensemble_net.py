"""`EnsembleNet`: several trained networks as one classifier that averages their probabilities.

Its output is the logarithm of the members' mean softmax probabilities, so that everything
that takes a network's logits and applies a softmax (`LoadedModel.predict_proba`, the ONNX
graph's second output, the Trainer's accuracy) gets exactly the averaged probabilities:
``softmax(log(mean_i p_i)) = mean_i p_i``, since the mean sums to 1. Computed as
``logsumexp_i(log_softmax(member_i(x))) - log(K)``, which stays finite where a member is sure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


class EnsembleNet(nn.Module):
    """The members (a `ModuleList`, saved as ``members.0.*``, ``members.1.*``...) averaged."""

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        log_probabilities = torch.stack(
            [torch.log_softmax(member(x), dim=1) for member in self.members]
        )
        return torch.logsumexp(log_probabilities, dim=0) - math.log(len(self.members))
