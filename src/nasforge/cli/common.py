"""What every command shares: input-error handling, parsing and output."""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console, RenderableType

from nasforge.errors import NasforgeError

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(command: F) -> F:
    """Errors end a command with one line on stderr: a NasforgeError (bad input) with exit
    code 2; anything unexpected with exit code 1, naming what failed and how to see the
    traceback (``--debug``, which re-raises it)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except NasforgeError as exc:
            typer.echo(f"nasforge: error: {one_line(str(exc))}", err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt as exc:
            from nasforge.run.signals import interrupted_line

            typer.echo(interrupted_line(command.__name__, exc), err=True)
            raise typer.Exit(getattr(exc, "exit_code", EXIT_SIGINT)) from None
        except BrokenPipeError:
            quiet_stdout()
            raise typer.Exit(EXIT_BROKEN_PIPE) from None
        except typer.Exit:
            raise
        except Exception as exc:
            if debugging():
                raise
            typer.echo(unexpected_error_line(command.__name__, exc), err=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


DEBUG_ENV = "NASFORGE_DEBUG"
EXIT_SIGINT = 128 + signal.SIGINT
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE
"""What a shell reports for a program ended by SIGPIPE (``cat``, ``grep``), here when the
reader of stdout went away (``nasforge predict ... | head -3``)."""


def quiet_stdout() -> None:
    """Point stdout at /dev/null once its reader has gone, so that nothing more is written
    there, not even the flush at interpreter exit (as the Python docs advise for SIGPIPE)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (an in-process test runner)
        pass
    finally:
        os.close(devnull)


def echo_err(line: str) -> None:
    """One line on stderr."""
    typer.echo(line, err=True)


def echo_note(line: str) -> None:
    """A note for the user (files left out, a caveat) on stderr: ``note: LINE``."""
    typer.echo(f"note: {line}", err=True)


def one_line(text: str) -> str:
    """``text`` on one line: a message that quotes another (a user's space raising a
    multi-line error) keeps its lines, joined by " | "."""
    return " | ".join(line.strip() for line in text.splitlines() if line.strip())


def debugging() -> bool:
    """True under ``--debug`` (or ``NASFORGE_DEBUG=1``): unexpected errors show a traceback."""
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def unexpected_error_line(command: str, exc: BaseException) -> str:
    """One line for an error nasforge did not expect: what failed, and where it was raised."""
    where = ""
    trace = exc.__traceback__
    while trace is not None and trace.tb_next is not None:
        trace = trace.tb_next
    if trace is not None:
        frame = trace.tb_frame
        where = f" at {Path(frame.f_code.co_filename).name}:{trace.tb_lineno}"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return (
        f"nasforge: unexpected error in '{command.replace('_', '-')}': "
        f"{type(exc).__name__}{': ' + text if text else ''}{where} "
        "(run it again with --debug for the traceback)"
    )


def stdout_console() -> Console:
    """A console for stdout; piped output gets room for whole NB201 strings on one line."""
    console = _StdoutConsole()
    return console if console.is_terminal else _StdoutConsole(width=200)


class _StdoutConsole(Console):
    """Rich's console, ending with exit status 141 (not 1) when stdout's reader has gone."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        quiet_stdout()
        raise SystemExit(EXIT_BROKEN_PIPE)


def print_lines(lines: Iterable[RenderableType], *, soft_wrap: bool = False) -> None:
    """Lines from `nasforge.report` on stdout: a plain ``str`` as it is, Rich text and
    tables laid out by Rich (wrapped at the terminal's width, unless `soft_wrap`)."""
    console = stdout_console()
    for line in lines:
        if isinstance(line, str):
            typer.echo(line)
        else:
            console.print(line, soft_wrap=soft_wrap)


def print_payload(
    payload: dict[str, Any],
    as_json: bool,
    lines: Callable[[dict[str, Any]], Iterable[RenderableType]],
    *,
    soft_wrap: bool = False,
) -> None:
    """One JSON object on stdout with ``--json``, else the lines of text `lines` makes."""
    if as_json:
        typer.echo(json.dumps(payload))
    else:
        print_lines(lines(payload), soft_wrap=soft_wrap)
