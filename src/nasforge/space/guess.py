"""Which registered space an architecture text belongs to, for hints after a failed parse
(``describe DARTS_V2`` without ``--space darts``)."""

from __future__ import annotations

from typing import Any

from nasforge.arch import Arch
from nasforge.errors import NasforgeError
from nasforge.space.base import SearchSpace


def spaces_reading(text: str, *, other_than: str | None = None) -> list[str]:
    """The registered spaces (but `other_than`) that parse `text`: as one of their published
    architectures or as their own arch text."""
    from nasforge.space import SPACES, make_space_for_arch

    reading = []
    for name in SPACES:
        if name == other_than:
            continue
        try:
            make_space_for_arch(name, text).parse(text)
        except (NasforgeError, ValueError, KeyError):
            continue
        reading.append(name)
    return reading


def parse_or_hint(space: SearchSpace, name: str, text: str, *, advice: str = "add {flags}") -> Arch:
    """``space.parse(text)``; when that fails and other registered spaces read `text`, the
    error (of the same type) names them and ends with `advice`, whose ``{flags}`` becomes
    the ``--space`` options to give instead."""
    try:
        return space.parse(text)
    except NasforgeError as exc:
        others = spaces_reading(text, other_than=name)
        if not others:
            raise
        flags = " or ".join(f"--space {other}" for other in others)
        error: Any = type(exc)
        raise error(
            f"{exc}; it reads as an arch of space {', '.join(others)}: "
            + advice.format(flags=flags)
        ) from None
