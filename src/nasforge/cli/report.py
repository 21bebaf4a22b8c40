"""`nasforge report` and `nasforge dashboard`: a search as an HTML file and as a live page."""

from __future__ import annotations

from nasforge.cli.app import app

__all__ = ["app"]
