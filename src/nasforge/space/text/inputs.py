"""What the text spaces (`textconv`, `transformer`) share about their inputs: token ids of a
text task (`nasforge.data.text`), padded with 0, unknown tokens 1."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nasforge.errors import SpaceError

if TYPE_CHECKING:
    import torch


def check_token_input(space: str, input_shape: tuple[int, ...], vocab_size: int) -> None:
    """Raise SpaceError unless inputs are ``(length,)`` token ids and the vocabulary is set."""
    if len(input_shape) != 1 or input_shape[0] < 1:
        raise SpaceError(
            f"space {space!r} needs token ids (length,), from a text task, not input "
            f"shape {tuple(input_shape)}"
        )
    if vocab_size < 3:
        raise SpaceError(
            f"space {space!r} needs vocab_size (a text task sets it; or -s vocab_size=N)"
        )


def known_ids(x: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Token ids as integers; an id outside the vocabulary (a random input, as latency and
    FLOPs are measured with) reads as unknown (1)."""
    ids = x.long()
    return ids.masked_fill((ids < 0) | (ids >= vocab_size), 1)
