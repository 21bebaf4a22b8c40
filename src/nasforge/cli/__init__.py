"""The `nasforge` command line: a thin Typer layer over the Python API.

People get a progress bar (stderr) and a leaderboard table; machines get one JSON object on
stdout with ``--json``. Every input error is one line on stderr and exit code 2. Torch is
imported only inside commands, so ``nasforge --help`` is instant.
"""

from __future__ import annotations

import os
import sys

from nasforge.cli import (
    analysis,
    describe,
    experiments,
    export,
    hardware,
    models,
    oneshot,
    proxies,
    report,
    search,
)
from nasforge.cli.app import app
from nasforge.cli.common import DEBUG_ENV

__all__ = [
    "analysis",
    "app",
    "describe",
    "experiments",
    "export",
    "hardware",
    "main",
    "models",
    "oneshot",
    "proxies",
    "report",
    "search",
]


def main() -> None:
    """Console-script entry point. ``--debug`` may stand anywhere among the arguments: it
    makes unexpected errors show their traceback."""
    args = sys.argv[1:]
    if "--debug" in args:
        args = [arg for arg in args if arg != "--debug"]
        os.environ[DEBUG_ENV] = "1"
    app(args=args, prog_name="nasforge")
