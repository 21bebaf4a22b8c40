"""`Status`: how a trial, or the training run inside it, ended (or that it has not yet).

It sits low in the house so that the Trainer, the evaluators' `Result` and the store's trial
records all name the same values.
"""

from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    """How a trial ended (or that it has not ended yet)."""

    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    DIVERGED = "diverged"

    @property
    def finished(self) -> bool:
        return self is not Status.RUNNING
