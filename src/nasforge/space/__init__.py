"""Search spaces, and the registry the CLI picks them from by name."""

from __future__ import annotations

from typing import Any

from nasforge.errors import SpaceError
from nasforge.space.base import Decision, SearchSpace
from nasforge.space.nb201 import NB201Space

SPACES: dict[str, type[SearchSpace]] = {NB201Space.name: NB201Space}


def make_space(name: str, **params: Any) -> SearchSpace:
    """Build a registered space by name; an unknown name is a clear error."""
    try:
        cls = SPACES[name]
    except KeyError:
        raise SpaceError(
            f"unknown search space {name!r}; choose from {', '.join(SPACES)}"
        ) from None
    try:
        return cls(**params)
    except TypeError as exc:
        raise SpaceError(f"bad options for space {name!r}: {exc}") from None


__all__ = ["SPACES", "Decision", "NB201Space", "SearchSpace", "make_space"]
