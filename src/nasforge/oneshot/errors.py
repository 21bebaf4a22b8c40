"""The error of one-shot search: a space, batch or dataset it cannot work with."""

from __future__ import annotations

from nasforge.errors import NasforgeError


class OneShotError(NasforgeError, ValueError):
    """A one-shot search cannot run as asked; the one-line message names what to change."""
