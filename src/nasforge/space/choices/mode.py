"""`SuperMode`: how a supernet's mixed modules run its next forward passes (weights of every
candidate, or one path), shared by all of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


@dataclass
class SuperMode:
    """How a supernet runs its next forward passes; shared by all its mixed modules.

    ``weights`` maps a label to one weight per candidate (mixed mode, DARTS); ``path`` maps a
    label to the index of its chosen candidate (single path: SPOS, ENAS, GDAS with
    ``weights`` as the hard one-hot scale)."""

    weights: dict[str, torch.Tensor] | None = None
    path: dict[str, int] | None = None
    add_unselected: bool = False
    # set while the supernet is built: candidates' BatchNorm options, partial channels
    batchnorm: dict[str, bool] | None = None
    partial_channels: int = 1
    # during a forward pass: id(input) -> (input, its ReLU), shared by the candidates
    shared: dict[int, tuple[torch.Tensor, torch.Tensor]] | None = None
    # during a forward pass: (id(candidate), id(input)) -> [input, output, uses left], for
    # candidates that module choices share (`Choices.choose_module(..., share=...)`); an
    # entry goes once every sharer has used it, so no-grad passes free outputs early
    outputs: dict[tuple[int, int], list[Any]] | None = None

    def chosen(self, label: str) -> int | None:
        """The index a single path takes for ``label``, or None if the next forward pass
        runs no path through it (mixed mode, or a path over other decisions). A supernet
        whose own decisions differ from its space's (the darts space's per-edge op
        choices) reads the space's decisions of an arch's path this way."""
        return None if self.path is None else self.path.get(label)
