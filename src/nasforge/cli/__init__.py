"""The `nasforge` command line: a thin Typer layer over the Python API.

People get a progress bar (stderr) and a leaderboard table; machines get one JSON object on
stdout with ``--json``. Every input error is one line on stderr and exit code 2. Torch is
imported only inside commands, so ``nasforge --help`` is instant.
"""

from __future__ import annotations

from nasforge.cli import experiments, models, oneshot, proxies, search
from nasforge.cli.app import app

__all__ = ["app", "experiments", "main", "models", "oneshot", "proxies", "search"]


def main() -> None:
    """Console-script entry point."""
    app(prog_name="nasforge")
