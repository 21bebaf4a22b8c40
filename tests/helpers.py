"""Small helpers shared by tests (not fixtures)."""

from __future__ import annotations

from nasforge.run.storage import TrialRecord


def journal(trials: list[TrialRecord]) -> list[tuple[object, ...]]:
    """What must match between two runs of one experiment: every trial and its outcome."""
    return [
        (t.number, t.arch, t.budget, t.status, t.score, t.duplicate_of, t.metrics) for t in trials
    ]
