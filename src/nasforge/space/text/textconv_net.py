"""The network of the `textconv` space (Kim 2014), written with the choice primitives.

Token ids ``(batch, length)`` (floats, as every task's inputs) are embedded (id 0, padding,
embeds to zeros; an id outside the vocabulary reads as unknown, 1), each branch convolves
the embedded sequence padded to keep its length (``(k - 1) // 2`` zeros before, ``k // 2``
after: every kernel's output has the text's length, so a supernet can mix kernels; Kim's
wide convolution padded ``k - 1`` on each side), ReLU, then pools over time; the branches'
pooled features are dropped out and classified by one linear layer (kept as one block per
branch, so that a supernet shares each branch's block whichever branches are on).
A branch of width 0 is off: its kernel is still asked (every arch holds every decision) on
the meta device and left out.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from nasforge.space.choices.primitives import Choices
from nasforge.space.text.inputs import known_ids
from nasforge.space.text.textconv import POOLINGS, TextConvSpace, kernel_label, width_label


class MaxOverTime(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.amax(dim=-1)


class MeanOverTime(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=-1)


_POOLS: dict[str, type[nn.Module]] = {"max": MaxOverTime, "mean": MeanOverTime}
EMBEDDING_INIT = 0.25
"""Embeddings start uniform in [-0.25, 0.25] as in Kim's code (torch's default N(0, 1) trains
a CNN-rand about 3 points worse on TREC: 87.4% against 90.2%, measured)."""


class Branch(nn.Module):
    """Convolution (the kernel a module choice), ReLU, pooling over time."""

    def __init__(
        self, choices: Choices, branch: int, embed_dim: int, width: int, kernels: Sequence[int]
    ) -> None:
        super().__init__()
        self.conv = choices.choose_module(
            kernel_label(branch), {k: _conv_factory(embed_dim, width, k) for k in kernels}
        )
        self.pool = choices.choose_module("pooling", {p: _POOLS[p] for p in POOLINGS})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.pool(torch.relu(self.conv(x)))
        return out


def _conv_factory(embed_dim: int, width: int, kernel: int) -> Any:
    return lambda: nn.Sequential(
        nn.ConstantPad1d(((kernel - 1) // 2, kernel // 2), 0.0), nn.Conv1d(embed_dim, width, kernel)
    )


class TextConvNetwork(nn.Module):
    """Embedding, branches, concatenation, dropout, linear. ``space_options`` are
    `TextConvSpace`'s."""

    def __init__(
        self,
        choices: Choices,
        input_shape: tuple[int, ...] = (64,),
        num_classes: int = 2,
        **space_options: Any,
    ) -> None:
        super().__init__()
        space = TextConvSpace(**space_options)
        vocab_size = max(space.vocab_size, 3)
        embed_dim = choices.choose_value("embed_dim", list(space.embed_dims))
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        with torch.no_grad():  # Kim's initialization: small random vectors, padding at zero
            self.embedding.weight.uniform_(-EMBEDDING_INIT, EMBEDDING_INIT)
            self.embedding.weight[0].zero_()
        # by branch index, so that a branch keeps its name (and its weights) when another is off
        branches: dict[str, nn.Module] = {}
        heads: dict[str, nn.Module] = {}
        for branch in range(space.branches):
            width = choices.choose_value(width_label(branch), list(space.widths))
            place = torch.device("meta") if width == 0 else contextlib.nullcontext()
            with place:
                built = Branch(choices, branch, embed_dim, max(width, 1), space.kernels)
            if width > 0:
                branches[str(branch)] = built
                heads[str(branch)] = nn.Linear(width, num_classes, bias=False)
        self.branches = nn.ModuleDict(branches)
        self.dropout = nn.Dropout(choices.choose_value("dropout", list(space.dropouts)))
        # one linear layer over the concatenated features, kept as one block per branch
        self.heads = nn.ModuleDict(heads)
        self.bias = nn.Parameter(torch.zeros(num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ids = known_ids(x, self.embedding.num_embeddings)
        embedded = self.embedding(ids).transpose(1, 2)  # (batch, embed, length)
        logits = self.bias.expand(embedded.shape[0], -1)
        for key, branch in self.branches.items():
            logits = logits + self.heads[key](self.dropout(branch(embedded)))
        return logits
