"""The `transformer` space: Transformer encoders for text, as AutoFormer and HAT search them.

A network embeds the token ids of a text (`nasforge.data.text`), adds learned positional
embeddings, runs ``depth`` pre-norm encoder layers (multi-head self-attention with padding
masked, then a feed-forward block), averages the tokens that are not padding, and
classifies them (LayerNorm, linear).

Decisions: ``embed_dim``, ``depth``; per layer ``layer{i}_heads`` (heads of ``head_dim``
channels each), ``layer{i}_ffn_ratio`` (the feed-forward width as a multiple of the
embedding) and ``layer{i}_activation`` (gelu or relu). Layers beyond the depth are
inactive (`canonical` resets their choices). Options: ``vocab_size`` (set from a text task
when not given), ``head_dim`` and the choices of each decision.

The network (`transformer_net.py`) is written with the choice primitives: every width is a
value choice, so its supernet holds the largest network and every smaller choice uses the
leading part of its weights (AutoFormer's weight entanglement); activations are module
choices.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from nasforge.arch import Arch, Choice
from nasforge.errors import SpaceError
from nasforge.space.base import Decision
from nasforge.space.choice_network import ChoiceNetworkSpace
from nasforge.space.text.inputs import check_token_input

if TYPE_CHECKING:
    from torch import nn

    from nasforge.space.choices.space import ChoiceSpace

ACTIVATIONS: tuple[str, ...] = ("gelu", "relu")


def layer_label(layer: int, what: str) -> str:
    return f"layer{layer}_{what}"


class TransformerSpace(ChoiceNetworkSpace):
    """Embedding, positions, pre-norm encoder layers, masked mean pooling, linear."""

    name = "transformer"
    trace_input_shape = (8,)

    def __init__(
        self,
        vocab_size: int = 0,
        head_dim: int = 16,
        embed_dims: Sequence[int] = (64, 96, 128),
        depths: Sequence[int] = (1, 2, 3, 4),
        heads: Sequence[int] = (2, 4),
        ffn_ratios: Sequence[int] = (1, 2, 4),
        dropout: float = 0.1,
    ) -> None:
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 0:
            raise SpaceError(f"transformer vocab_size must be an integer >= 0, not {vocab_size!r}")
        for what, values in (
            ("embed_dims", embed_dims),
            ("depths", depths),
            ("heads", heads),
            ("ffn_ratios", ffn_ratios),
        ):
            if not values or any(not _positive_int(v) for v in values):
                raise SpaceError(f"transformer {what} must be positive integers, not {values}")
        if not _positive_int(head_dim):
            raise SpaceError(f"transformer head_dim must be a positive integer, not {head_dim!r}")
        if not 0.0 <= dropout < 1.0:
            raise SpaceError(f"transformer dropout must lie in [0, 1), not {dropout}")
        self.vocab_size, self.head_dim, self.dropout = vocab_size, head_dim, float(dropout)
        self.embed_dims = tuple(dict.fromkeys(embed_dims))
        self.depths = tuple(dict.fromkeys(depths))
        self.heads = tuple(dict.fromkeys(heads))
        self.ffn_ratios = tuple(dict.fromkeys(ffn_ratios))
        decisions = [Decision("embed_dim", self.embed_dims), Decision("depth", self.depths)]
        for layer in range(max(self.depths)):
            decisions += [
                Decision(layer_label(layer, "heads"), self.heads),
                Decision(layer_label(layer, "ffn_ratio"), self.ffn_ratios),
                Decision(layer_label(layer, "activation"), ACTIVATIONS),
            ]
        self._decisions = tuple(decisions)
        self._choice_space: ChoiceSpace | None = None

    @property
    def decisions(self) -> Sequence[Decision]:
        return self._decisions

    def config(self) -> dict[str, Any]:
        return {
            "vocab_size": self.vocab_size,
            "head_dim": self.head_dim,
            "embed_dims": list(self.embed_dims),
            "depths": list(self.depths),
            "heads": list(self.heads),
            "ffn_ratios": list(self.ffn_ratios),
            "dropout": self.dropout,
        }

    # -- architectures -------------------------------------------------------------------
    def canonical(self, arch: Arch) -> Arch:
        """Layers beyond the depth get the first choice of each of their decisions."""
        arch = self.validate(arch)
        depth = int(arch["depth"])
        inactive: dict[str, Choice] = {
            d.label: d.choices[0]
            for d in self._decisions
            if d.label.startswith("layer") and int(d.label[5:].split("_")[0]) >= depth
        }
        return arch.replace(**inactive)

    def sample(self, rng: np.random.Generator) -> Arch:
        return self.canonical(super().sample(rng))

    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch:
        arch = self.canonical(arch)
        for _ in range(100):
            changed = self.canonical(super().mutate(arch, rng))
            if changed != arch:
                return changed
        return arch

    def crossover(self, first: Arch, second: Arch, rng: np.random.Generator) -> Arch:
        return self.canonical(super().crossover(first, second, rng))

    def named_architectures(self) -> Mapping[str, Arch]:
        return {}

    # -- networks --------------------------------------------------------------------------
    def check_input(self, input_shape: tuple[int, ...]) -> None:
        check_token_input(self.name, input_shape, self.vocab_size)

    def network_class(self) -> type[nn.Module]:
        from nasforge.space.text.transformer_net import TransformerNetwork

        return TransformerNetwork

    def op_decisions(self) -> tuple[Decision, ...]:
        return tuple(d for d in self._decisions if d.label.endswith("_activation"))


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
