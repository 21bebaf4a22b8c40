"""The `ngrams` space: bag-of-n-grams text classifiers, fastText's design (Joulin et al. 2017).

A network averages the embeddings of a text's words (its token ids, `nasforge.data.text`)
and, with ``ngrams=2``, of its word bigrams hashed into ``buckets`` extra rows of the same
table (an ``nn.EmbeddingBag``; padding left out), then classifies the average with a linear
layer, or with one hidden layer (ReLU) first; dropout before each linear layer. It is the
network that can find what a tf-idf linear model of word 1-2 grams finds, beside the
convolutional (`textconv`) and Transformer (`transformer`) families.

Decisions: ``embed_dim``, ``ngrams`` (1: words; 2: words and bigrams), ``hidden`` (0: linear),
``dropout``. Options: ``vocab_size`` (token ids, padding and unknown included: set from a
text task when not given), ``buckets`` (rows for hashed bigrams), and the choices of each
decision. Input: ``(length,)`` token ids. Its decisions are widths and values only (no
operation choice), so it has no one-shot supernet method: search it by training.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nasforge.errors import SpaceError
from nasforge.space.base import Decision
from nasforge.space.choice_network import ChoiceNetworkSpace
from nasforge.space.text.inputs import check_token_input

if TYPE_CHECKING:
    from torch import nn


class NgramsSpace(ChoiceNetworkSpace):
    """Mean of word (and hashed bigram) embeddings, then linear or one hidden layer."""

    name = "ngrams"
    trace_input_shape = (16,)

    def __init__(
        self,
        vocab_size: int = 0,
        buckets: int = 65536,
        embed_dims: Sequence[int] = (16, 32, 64, 128),
        ngrams: Sequence[int] = (1, 2),
        hiddens: Sequence[int] = (0, 64, 128),
        dropouts: Sequence[float] = (0.0, 0.25, 0.5),
    ) -> None:
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 0:
            raise SpaceError(f"ngrams vocab_size must be an integer >= 0, not {vocab_size!r}")
        if not _count(buckets):
            raise SpaceError(f"ngrams buckets must be an integer >= 1, not {buckets!r}")
        if not embed_dims or not all(_count(v) for v in embed_dims):
            raise SpaceError(f"ngrams embed_dims must be positive integers, not {embed_dims}")
        if not ngrams or any(v not in (1, 2) for v in ngrams):
            raise SpaceError(f"ngrams ngrams must be 1 (words) or 2 (and bigrams), not {ngrams}")
        if not hiddens or not all(_count(v) or v == 0 for v in hiddens):
            raise SpaceError(f"ngrams hiddens must be integers >= 0, not {hiddens}")
        if not dropouts or any(not 0.0 <= float(d) < 1.0 for d in dropouts):
            raise SpaceError(f"ngrams dropouts must lie in [0, 1), not {list(dropouts)}")
        self.vocab_size = vocab_size
        self.buckets = buckets
        self.embed_dims = tuple(dict.fromkeys(int(v) for v in embed_dims))
        self.ngrams = tuple(dict.fromkeys(int(v) for v in ngrams))
        self.hiddens = tuple(dict.fromkeys(int(v) for v in hiddens))
        self.dropouts = tuple(dict.fromkeys(float(v) for v in dropouts))
        self._decisions = (
            Decision("embed_dim", self.embed_dims),
            Decision("ngrams", self.ngrams),
            Decision("hidden", self.hiddens),
            Decision("dropout", self.dropouts),
        )

    @property
    def decisions(self) -> Sequence[Decision]:
        return self._decisions

    def config(self) -> dict[str, Any]:
        return {
            "vocab_size": self.vocab_size,
            "buckets": self.buckets,
            "embed_dims": list(self.embed_dims),
            "ngrams": list(self.ngrams),
            "hiddens": list(self.hiddens),
            "dropouts": list(self.dropouts),
        }

    def check_input(self, input_shape: tuple[int, ...]) -> None:
        check_token_input(self.name, input_shape, self.vocab_size)

    def network_class(self) -> type[nn.Module]:
        from nasforge.space.text.ngrams_net import NgramsNetwork

        return NgramsNetwork


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
