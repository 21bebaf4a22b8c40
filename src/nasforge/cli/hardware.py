"""`nasforge scale` and `nasforge latency`: compound scaling and latency lookup tables."""

from __future__ import annotations

from nasforge.cli.app import app

__all__ = ["app"]
