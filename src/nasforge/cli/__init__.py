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
    resume,
    search,
)
from nasforge.cli.app import app
from nasforge.cli.common import DEBUG_ENV, EXIT_BROKEN_PIPE, quiet_stdout

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
    "resume",
    "search",
]


def main() -> None:
    """Console-script entry point. ``--debug`` may stand anywhere among the arguments: it
    makes unexpected errors show their traceback. Output to a closed pipe ends quietly with
    exit status 141, as for other programs killed by SIGPIPE."""
    args = sys.argv[1:]
    if "--debug" in args:
        args = [arg for arg in args if arg != "--debug"]
        os.environ[DEBUG_ENV] = "1"
    try:
        try:
            app(args=args, prog_name="nasforge")
        finally:
            sys.stdout.flush()  # a reader that went away is found here, not at exit
    except BrokenPipeError:
        quiet_stdout()
        sys.exit(EXIT_BROKEN_PIPE)
