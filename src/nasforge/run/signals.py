"""Stopping a search cleanly on SIGINT or SIGTERM.

Both signals stop a search the same way (Ctrl-C, ``kill``, ``timeout``, a job scheduler):
no new trial starts, the running ones are cancelled (the executor ends its workers) and stay
in the store as unfinished, which ``nasforge resume`` runs again, the store is closed, and
`SearchInterrupted` propagates (the CLI turns it into one line and exit 128 + the signal:
130 for SIGINT, 143 for SIGTERM). A second signal while the search shuts down kills the
workers at once instead of waiting for them.

The handlers raise only while the search waits for results (`StopSignals.waiting`); a signal
that arrives while the loop writes to the store is noted and acted on at the next wait, so
that no write is torn. Handlers can only be set in the main thread: elsewhere the search
runs without them (as a library call in a thread, the caller owns the signals).
"""

from __future__ import annotations

import shlex
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class SearchInterrupted(KeyboardInterrupt):
    """A search stopped by signal `signum`; `store` and `name` say what to resume."""

    def __init__(self, signum: int, store: str | None = None, name: str | None = None) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.store = store
        self.name = name

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by the signal: 128 + its number."""
        return 128 + self.signum

    def resume_hint(self) -> str:
        """How to continue, as a command line."""
        store = f" --store {shlex.quote(self.store)}" if self.store else ""
        name = f" --name {shlex.quote(self.name)}" if self.name else ""
        return f"nasforge resume{store}{name}"


def interrupted_line(command: str, exc: KeyboardInterrupt) -> str:
    """One line for a command stopped by SIGINT or SIGTERM: which, and how to go on."""
    if isinstance(exc, SearchInterrupted):
        return (
            f"nasforge: {command} stopped by {signal.Signals(exc.signum).name}; finished trials "
            f"are in the store, and the interrupted ones run again with: {exc.resume_hint()}"
        )
    return (
        f"nasforge: {command} interrupted; finished trials are in the store "
        "('nasforge resume' continues a search)"
    )


class StopSignals:
    """The state of the handlers: which signal came first, and what a second one does."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.hurry: Callable[[], None] = lambda: None
        """Called on a second signal (set to the executor's `kill` while it shuts down)."""
        self._blocking = False
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        """Handle SIGINT and SIGTERM (again: a Ray driver sets its own when it starts)."""
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in STOP_SIGNALS:
            previous = signal.signal(signum, self._handle)
            self._previous.setdefault(signum, previous)

    def restore(self) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    def check(self) -> None:
        """Raise `SearchInterrupted` if a signal came."""
        if self.signum is not None:
            raise SearchInterrupted(self.signum)

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """A block in which a signal interrupts at once (waiting for results)."""
        self._blocking = True
        try:
            self.check()
            yield
        except KeyboardInterrupt as exc:
            # Ray's wait turns the handler's exception into a plain KeyboardInterrupt
            if self.signum is None or isinstance(exc, SearchInterrupted):
                raise
            raise SearchInterrupted(self.signum) from None
        finally:
            self._blocking = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            self.hurry()
            return
        self.signum = signum
        if self._blocking:
            raise SearchInterrupted(signum)


@contextmanager
def stop_signals() -> Iterator[StopSignals]:
    """SIGINT and SIGTERM handled as `StopSignals` for the duration of the block."""
    stop = StopSignals()
    stop.install()
    try:
        yield stop
    finally:
        stop.restore()
