"""`nasforge describe`: one architecture of any space: canonical form, size, cost, picture."""

from __future__ import annotations

from nasforge.cli.app import app

__all__ = ["app"]
