"""The network of the `ngrams` space (fastText's design), written with the choice primitives.

Token ids ``(batch, length)`` (floats, as every task's inputs) become bags: the words' ids
(an id outside the vocabulary reads as unknown, 1), and with ``ngrams=2`` each pair of
neighbouring words hashed to one of ``buckets`` rows after the vocabulary's
(``vocab + (first * 1000003 + second) mod buckets``; a pair with padding is left out). An
``nn.EmbeddingBag`` averages the bag's rows (padding, id 0, is not counted), BatchNorm
standardizes the average, then dropout and a linear layer, or a hidden layer with ReLU and
dropout before it. Embeddings start uniform in [-0.1, 0.1] and the table always holds
``vocab + buckets`` rows, so a supernet shares it at every choice.

The BatchNorm is what lets the bag learn at the learning rate every search uses (SGD,
0.05): without it, the average of small embeddings gives the linear layer tiny features
and each row a gradient divided by the bag's length, and one arch (embed 64, words and
bigrams, linear, dropout 0.25) reached 44.2% on TREC after 10 epochs; with it, 88.2%
(89.4% after 20 epochs; measured on one core, `docs/benchmarks.md`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from nasforge.space.choices.primitives import Choices
from nasforge.space.text.inputs import known_ids
from nasforge.space.text.ngrams import NgramsSpace

HASH_MULTIPLIER = 1_000_003
EMBEDDING_INIT = 0.1


class NgramsNetwork(nn.Module):
    """Bag of n-gram embeddings, then linear or one hidden layer. ``space_options`` are
    `NgramsSpace`'s."""

    def __init__(
        self,
        choices: Choices,
        input_shape: tuple[int, ...] = (64,),
        num_classes: int = 2,
        **space_options: Any,
    ) -> None:
        super().__init__()
        space = NgramsSpace(**space_options)
        self.vocab_size = max(space.vocab_size, 3)
        self.buckets = space.buckets
        embed_dim = choices.choose_value("embed_dim", list(space.embed_dims))
        self.ngrams = choices.choose_value("ngrams", list(space.ngrams))
        hidden = choices.choose_value("hidden", list(space.hiddens))
        rate = choices.choose_value("dropout", list(space.dropouts))
        self.embedding = nn.EmbeddingBag(
            self.vocab_size + self.buckets, embed_dim, mode="mean", padding_idx=0
        )
        with torch.no_grad():
            self.embedding.weight.uniform_(-EMBEDDING_INIT, EMBEDDING_INIT)
            self.embedding.weight[0].zero_()
        self.norm = nn.BatchNorm1d(embed_dim)
        self.dropout = nn.Dropout(rate)
        self.hidden = nn.Linear(embed_dim, hidden) if hidden else None
        self.head = nn.Linear(hidden or embed_dim, num_classes)

    def bags(self, x: torch.Tensor) -> torch.Tensor:
        """The rows of each text's bag, ``(batch, length)`` or ``(batch, 2 * length - 1)``."""
        ids = known_ids(x, self.vocab_size)
        if self.ngrams < 2 or ids.shape[1] < 2:
            return ids
        first, second = ids[:, :-1], ids[:, 1:]
        hashed = self.vocab_size + (first * HASH_MULTIPLIER + second) % self.buckets
        pairs = hashed.masked_fill((first == 0) | (second == 0), 0)
        return torch.cat([ids, pairs], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.dropout(self.norm(self.embedding(self.bags(x))))
        if self.hidden is not None:
            features = self.dropout(torch.relu(self.hidden(features)))
        out: torch.Tensor = self.head(features)
        return out
