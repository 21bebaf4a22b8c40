"""The network of the `transformer` space, written with the choice primitives.

Pre-norm encoder layers (``x + attention(norm(x))``, then ``x + ffn(norm(x))``). The
queries, keys and values are three linear maps to ``heads * head_dim`` channels, so fewer
heads are the leading rows of the same weights (AutoFormer's weight entanglement; likewise
the embedding width and the feed-forward width). Padding tokens (id 0) are masked out of
attention and of the mean over tokens (the first token always counts, so an empty text has
a representation). Layers beyond the depth are built on the meta device and left out.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nasforge.space.choices import Choices
from nasforge.space.text.inputs import known_ids
from nasforge.space.text.transformer import ACTIVATIONS, TransformerSpace, layer_label

_ACTIVATIONS: dict[str, type[nn.Module]] = {"gelu": nn.GELU, "relu": nn.ReLU}


class EncoderLayer(nn.Module):
    """Multi-head self-attention and a feed-forward block, each after a LayerNorm and
    added back (pre-norm)."""

    def __init__(
        self, choices: Choices, layer: int, embed_dim: int, space: TransformerSpace
    ) -> None:
        super().__init__()
        heads = choices.choose_value(layer_label(layer, "heads"), list(space.heads))
        ratio = choices.choose_value(layer_label(layer, "ffn_ratio"), list(space.ffn_ratios))
        self.heads, self.head_dim = heads, space.head_dim
        width = heads * space.head_dim
        self.norm1 = nn.LayerNorm(embed_dim)
        self.query = nn.Linear(embed_dim, width)
        self.key = nn.Linear(embed_dim, width)
        self.value = nn.Linear(embed_dim, width)
        self.out = nn.Linear(width, embed_dim)
        self.norm2 = nn.LayerNorm(embed_dim)
        self.ffn_in = nn.Linear(embed_dim, ratio * embed_dim)
        self.activation = choices.choose_module(
            layer_label(layer, "activation"), {a: _ACTIVATIONS[a] for a in ACTIVATIONS}
        )
        self.ffn_out = nn.Linear(ratio * embed_dim, embed_dim)
        self.dropout = nn.Dropout(space.dropout)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        h = self.norm1(x)

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, length, self.heads, self.head_dim).transpose(1, 2)

        attended = F.scaled_dot_product_attention(
            split(self.query(h)), split(self.key(h)), split(self.value(h)),
            attn_mask=keep[:, None, None, :],
        )  # fmt: skip
        merged = attended.transpose(1, 2).reshape(batch, length, self.heads * self.head_dim)
        x = x + self.dropout(self.out(merged))
        h = self.ffn_out(self.activation(self.ffn_in(self.norm2(x))))
        out: torch.Tensor = x + self.dropout(h)
        return out


class TransformerNetwork(nn.Module):
    """Embedding, positions, encoder layers, masked mean, LayerNorm, linear.
    ``space_options`` are `TransformerSpace`'s."""

    def __init__(
        self,
        choices: Choices,
        input_shape: tuple[int, ...] = (64,),
        num_classes: int = 2,
        **space_options: Any,
    ) -> None:
        super().__init__()
        space = TransformerSpace(**space_options)
        embed_dim = choices.choose_value("embed_dim", list(space.embed_dims))
        depth = choices.choose_value("depth", list(space.depths))
        self.embedding = nn.Embedding(max(space.vocab_size, 3), embed_dim, padding_idx=0)
        self.position = nn.Embedding(int(input_shape[0]), embed_dim)
        with torch.no_grad():  # small embeddings, as BERT and AutoFormer start them
            nn.init.trunc_normal_(self.embedding.weight, std=0.02)
            nn.init.trunc_normal_(self.position.weight, std=0.02)
            self.embedding.weight[0].zero_()
        self.dropout = nn.Dropout(space.dropout)
        layers: list[nn.Module] = []
        for layer in range(max(space.depths)):
            place = torch.device("meta") if layer >= depth else contextlib.nullcontext()
            with place:
                built = EncoderLayer(choices, layer, embed_dim, space)
            if layer < depth:
                layers.append(built)
        self.layers = nn.ModuleList(layers)
        self.norm = nn.LayerNorm(embed_dim)
        self.classifier = nn.Linear(embed_dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ids = known_ids(x, self.embedding.num_embeddings)
        keep = ids != 0
        keep[:, 0] = True
        positions = torch.arange(ids.shape[1], device=ids.device)
        h = self.dropout(self.embedding(ids) + self.position(positions)[None])
        for layer in self.layers:
            h = layer(h, keep)
        h = self.norm(h)
        weights = keep.to(h.dtype)[..., None]
        pooled = (h * weights).sum(dim=1) / weights.sum(dim=1)
        logits: torch.Tensor = self.classifier(pooled)
        return logits
