"""`SuperNet`: what a one-shot method needs from the supernet of a space.

A supernet holds every candidate op of every op choice ("edge") of a space. The methods
treat it through one interface, whatever the space:

- the architecture weights are one tensor of shape ``(num_edges, num_ops)``: every edge
  offers the same ``op_names`` in the same order;
- ``use_weights(w)`` (mixed mode, DARTS): every edge computes all its ops and sums them
  weighted by its row of ``w`` (an op named ``"none"`` contributes zeros, so it is skipped);
- ``use_path(path)`` (single path, SPOS/ENAS/evaluation): only op ``path[e]`` runs on edge
  ``e``, so a sampled child costs what the child costs;
- ``use_path(path, weights=w)`` (GDAS): as a single path, with op ``path[e]``'s output scaled
  by ``w[e, path[e]]`` (hard Gumbel weights carry the straight-through gradient to alpha);
- ``child(arch)``: the plain network of ``arch`` with the chosen ops' weights copied in.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from nasforge.arch import Arch
from nasforge.errors import ArchError

NONE_OP = "none"
SKIP_OP = "skip_connect"


@dataclass
class SuperNetMode:
    """How the supernet runs its next forward passes (shared by all its cells)."""

    weights: torch.Tensor | None = None
    path: tuple[int, ...] | None = None
    add_unselected: bool = False


class SuperNet(nn.Module, ABC):
    """Base class of supernets: the edge labels, their candidate ops and the current mode."""

    def __init__(self, labels: Sequence[str], op_names: Sequence[str]) -> None:
        super().__init__()
        self.labels = tuple(labels)
        self.op_names = tuple(op_names)
        self.mode = SuperNetMode()
        self.use_weights(torch.full(self.shape, 1.0 / len(self.op_names)))

    @property
    def shape(self) -> tuple[int, int]:
        """The shape ``(num_edges, num_ops)`` of architecture weights."""
        return (len(self.labels), len(self.op_names))

    # -- modes -------------------------------------------------------------------------
    def use_weights(self, weights: torch.Tensor) -> None:
        """Mixed mode: every edge sums all its ops, weighted by its row of ``weights``."""
        self._check_weights(weights)
        self.mode.weights, self.mode.path = weights, None
        self.mode.add_unselected = False

    def use_path(
        self,
        path: Arch | Sequence[int],
        weights: torch.Tensor | None = None,
        *,
        add_unselected: bool = False,
    ) -> None:
        """Single-path mode: only op ``path[e]`` runs on edge ``e`` (scaled by
        ``weights[e, path[e]]`` if ``weights`` is given). With ``add_unselected``, each edge
        also adds its other ops' weights as a constant (zero for a hard one-hot sample, but
        their gradient is the sum of the edge output's gradient), as ``xautodl``'s GDAS
        cell does."""
        indices = self.path_of(path) if isinstance(path, Arch) else tuple(int(i) for i in path)
        if len(indices) != len(self.labels) or not all(
            0 <= i < len(self.op_names) for i in indices
        ):
            raise ArchError(
                f"a path needs one op index in [0, {len(self.op_names)}) for each of the "
                f"{len(self.labels)} edges, not {list(indices)}"
            )
        if weights is not None:
            self._check_weights(weights)
        elif add_unselected:
            raise ArchError("add_unselected needs the architecture weights")
        self.mode.weights, self.mode.path = weights, indices
        self.mode.add_unselected = add_unselected

    def _check_weights(self, weights: torch.Tensor) -> None:
        if tuple(weights.shape) != self.shape:
            raise ArchError(
                f"architecture weights need shape {self.shape} (edges, ops), "
                f"not {tuple(weights.shape)}"
            )

    # -- arch <-> op indices -------------------------------------------------------------
    def path_of(self, arch: Arch) -> tuple[int, ...]:
        """The op index of each edge of ``arch``."""
        indices = []
        for label in self.labels:
            if label not in arch:
                raise ArchError(f"arch has no choice for edge {label!r}")
            choice = arch[label]
            if choice not in self.op_names:
                raise ArchError(
                    f"{choice!r} is not an op of edge {label!r}; expected one of "
                    f"{', '.join(self.op_names)}"
                )
            indices.append(self.op_names.index(str(choice)))
        return tuple(indices)

    def arch_of(self, path: Sequence[int] | torch.Tensor) -> Arch:
        """The arch that picks op ``path[e]`` on edge ``e``."""
        indices = [int(i) for i in path]
        return Arch(
            {label: self.op_names[i] for label, i in zip(self.labels, indices, strict=True)}
        )

    def argmax_arch(self, alpha: torch.Tensor, exclude: Sequence[str] = ()) -> Arch:
        """The arch of the strongest op of every edge (ties go to the first op), leaving out
        the ops named in ``exclude`` (DARTS's derivation excludes ``none``)."""
        unknown = sorted(set(exclude) - set(self.op_names))
        if unknown or len(set(exclude)) >= len(self.op_names):
            raise ArchError(
                f"cannot exclude {', '.join(map(repr, exclude))} from the ops "
                f"{', '.join(self.op_names)}: "
                + ("unknown op" if unknown else "no op would be left")
            )
        scores = alpha.detach().clone()
        for name in exclude:
            scores[:, self.op_names.index(name)] = -torch.inf
        return self.arch_of(scores.argmax(dim=-1))

    # -- export --------------------------------------------------------------------------
    @abstractmethod
    def child(self, arch: Arch) -> nn.Module:
        """The plain network of ``arch``, with the weights of the chosen ops copied in."""
