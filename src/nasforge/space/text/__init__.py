"""Spaces over token sequences, each a space module and its network: `textconv`
(convolution branches over embeddings), `transformer` (a small encoder) and `ngrams` (bags of
n-grams); `inputs` checks and clips token inputs for all three."""

from __future__ import annotations

from nasforge.space.text.ngrams import NgramsSpace
from nasforge.space.text.textconv import TextConvSpace
from nasforge.space.text.transformer import TransformerSpace

__all__ = ["NgramsSpace", "TextConvSpace", "TransformerSpace"]
