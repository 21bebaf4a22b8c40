"""The `textconv` space: convolutional text classifiers of the Kim (2014) family.

A network embeds the token ids of a text (`nasforge.data.text`), runs parallel 1-D
convolutions over the embedded sequence (each branch: a kernel size and a number of
filters, ReLU), pools each branch over time (max, as Kim's CNN, or mean), concatenates them,
applies dropout and a linear layer. Kim's CNN-rand (random embeddings of 300, windows 3, 4
and 5 with 100 filters each, max pooling, dropout 0.5) is the named arch ``kim2014``.

Decisions: ``embed_dim``; per branch ``branch{i}_kernel`` and ``branch{i}_width`` (0 turns
the branch off; at least one stays on); ``pooling``; ``dropout``. Options: ``vocab_size``
(token ids, padding and unknown included: set from a text task when not given),
``branches``, and the choices of each decision. Input: ``(length,)`` token ids.

The network (`textconv_net.py`) is written with the choice primitives: the embedding width
and branch widths are value choices (a supernet shares the widest weights by slicing), each
branch's kernel a module choice of convolutions, the pooling a module choice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from nasforge.arch import Arch, Choice
from nasforge.errors import ArchError, SpaceError
from nasforge.space.base import Decision
from nasforge.space.choice_network import ChoiceNetworkSpace
from nasforge.space.text.inputs import check_token_input

if TYPE_CHECKING:
    from torch import nn

    from nasforge.space.choices.space import ChoiceSpace

POOLINGS: tuple[str, ...] = ("max", "mean")


def kernel_label(branch: int) -> str:
    return f"branch{branch}_kernel"


def width_label(branch: int) -> str:
    return f"branch{branch}_width"


class TextConvSpace(ChoiceNetworkSpace):
    """Embedding, parallel 1-D convolutions, pooling over time, dropout, linear."""

    name = "textconv"
    trace_input_shape = (16,)

    def __init__(
        self,
        vocab_size: int = 0,
        branches: int = 3,
        embed_dims: Sequence[int] = (64, 128, 300),
        kernels: Sequence[int] = (1, 2, 3, 4, 5, 7),
        widths: Sequence[int] = (0, 50, 100, 150),
        dropouts: Sequence[float] = (0.1, 0.3, 0.5),
    ) -> None:
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 0:
            raise SpaceError(f"textconv vocab_size must be an integer >= 0, not {vocab_size!r}")
        if not isinstance(branches, int) or not 1 <= branches <= 8:
            raise SpaceError(f"textconv branches must be 1 to 8, not {branches!r}")
        for what, values in (("embed_dims", embed_dims), ("kernels", kernels)):
            if not values or any(not _positive_int(v) for v in values):
                raise SpaceError(f"textconv {what} must be positive integers, not {values}")
        if not widths or any(_bad_width(w) for w in widths) or max(widths) < 1:
            raise SpaceError(
                f"textconv widths must be integers >= 0 with one > 0, not {list(widths)}"
            )
        if not dropouts or any(not 0.0 <= float(d) < 1.0 for d in dropouts):
            raise SpaceError(f"textconv dropouts must lie in [0, 1), not {list(dropouts)}")
        self.vocab_size = vocab_size
        self.branches = branches
        self.embed_dims = tuple(dict.fromkeys(int(v) for v in embed_dims))
        self.kernels = tuple(dict.fromkeys(int(v) for v in kernels))
        self.widths = tuple(dict.fromkeys(int(v) for v in widths))
        self.dropouts = tuple(dict.fromkeys(float(v) for v in dropouts))
        decisions = [Decision("embed_dim", self.embed_dims)]
        for branch in range(branches):
            decisions += [
                Decision(kernel_label(branch), self.kernels),
                Decision(width_label(branch), self.widths),
            ]
        decisions += [Decision("pooling", POOLINGS), Decision("dropout", self.dropouts)]
        self._decisions = tuple(decisions)
        self._choice_space: ChoiceSpace | None = None

    @property
    def decisions(self) -> Sequence[Decision]:
        return self._decisions

    def config(self) -> dict[str, Any]:
        return {
            "vocab_size": self.vocab_size,
            "branches": self.branches,
            "embed_dims": list(self.embed_dims),
            "kernels": list(self.kernels),
            "widths": list(self.widths),
            "dropouts": list(self.dropouts),
        }

    # -- architectures -------------------------------------------------------------------
    def validate(self, arch: Arch) -> Arch:
        arch = super().validate(arch)
        if all(int(arch[width_label(b)]) == 0 for b in range(self.branches)):
            raise ArchError("a textconv arch needs at least one branch with width > 0")
        return arch

    def canonical(self, arch: Arch) -> Arch:
        """A branch that is off gets the first kernel."""
        arch = self.validate(arch)
        off = {
            kernel_label(b): self.kernels[0]
            for b in range(self.branches)
            if int(arch[width_label(b)]) == 0
        }
        return arch.replace(**off)

    def sample(self, rng: np.random.Generator) -> Arch:
        while True:
            arch = super().sample(rng)
            if any(int(arch[width_label(b)]) > 0 for b in range(self.branches)):
                return self.canonical(arch)

    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch:
        for _ in range(100):
            changed = super().mutate(arch, rng)
            if any(int(changed[width_label(b)]) > 0 for b in range(self.branches)):
                return self.canonical(changed)
        return self.canonical(arch)

    def crossover(self, first: Arch, second: Arch, rng: np.random.Generator) -> Arch:
        child = super().crossover(first, second, rng)
        if all(int(child[width_label(b)]) == 0 for b in range(self.branches)):
            return self.canonical(first)
        return self.canonical(child)

    def named_architectures(self) -> Mapping[str, Arch]:
        """``kim2014``: Kim's CNN-rand, where this space's choices and branches allow it."""
        wanted: dict[str, Choice] = {"embed_dim": 300, "pooling": "max", "dropout": 0.5}
        for branch, kernel in zip(range(self.branches), (3, 4, 5), strict=False):
            wanted[kernel_label(branch)] = kernel
            wanted[width_label(branch)] = 100
        for branch in range(3, self.branches):
            wanted[kernel_label(branch)] = self.kernels[0]
            wanted[width_label(branch)] = 0
        try:
            return {"kim2014": self.canonical(Arch(wanted))}
        except ArchError:
            return {}

    # -- networks --------------------------------------------------------------------------
    def check_input(self, input_shape: tuple[int, ...]) -> None:
        check_token_input(self.name, input_shape, self.vocab_size)

    def network_class(self) -> type[nn.Module]:
        from nasforge.space.text.textconv_net import TextConvNetwork

        return TextConvNetwork

    def op_decisions(self) -> tuple[Decision, ...]:
        return tuple(
            d for d in self._decisions if d.label.endswith("_kernel") or d.label == "pooling"
        )


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _bad_width(value: object) -> bool:
    return isinstance(value, bool) or not isinstance(value, int) or value < 0
