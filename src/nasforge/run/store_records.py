"""What a nasforge store holds, as Python values: experiments, runs (processes) and
trials, and how they are read from the store's rows."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

from nasforge.evaluate.result import Result
from nasforge.status import Status


@dataclass(frozen=True)
class ExperimentRecord:
    id: int
    name: str
    config: dict[str, Any]
    created_at: float
    wall_seconds: float
    shared: bool = False
    """True once two processes ran the experiment at once (resume then cannot replay asks)."""


@dataclass(frozen=True)
class RunRecord:
    """A process that runs (or ran) an experiment."""

    id: int
    pid: int
    host: str
    heartbeat_at: float


@dataclass(frozen=True)
class TrialRecord:
    """One trial as stored: its proposal, and (once finished) its result and score."""

    number: int
    arch: str
    budget: float | None
    status: Status
    created_seq: int
    metrics: dict[str, float] = field(default_factory=dict)
    score: float | None = None
    cost: float = 0.0
    error: str | None = None
    duplicate_of: int | None = None
    finished_seq: int | None = None
    info: dict[str, Any] = field(default_factory=dict)
    scores: tuple[float, ...] | None = None
    violation: float = 0.0
    run_id: int | None = None
    """The run (process) that created the trial."""
    created_at: float | None = None
    finished_at: float | None = None
    """Unix times of the proposal and of the result (None while running)."""

    @property
    def finished(self) -> bool:
        return self.status.finished

    @property
    def evaluated(self) -> bool:
        """Finished and charged to the budget (not a reused result of an earlier trial)."""
        return self.finished and self.duplicate_of is None

    def result(self) -> Result:
        return Result(
            metrics=dict(self.metrics), cost=self.cost, status=self.status, error=self.error
        )


def trial_from_row(row: tuple[Any, ...]) -> TrialRecord:
    return TrialRecord(
        number=row[0],
        arch=row[1],
        budget=row[2],
        status=Status(row[3]),
        metrics=json.loads(row[4]) if row[4] else {},
        score=row[5],
        cost=row[6] or 0.0,
        error=row[7],
        duplicate_of=row[8],
        created_seq=row[9],
        finished_seq=row[10],
        info=json.loads(row[11]) if row[11] else {},
        scores=tuple(json.loads(row[12])) if row[12] else None,
        violation=math.inf if row[13] is None else row[13],
        run_id=row[14],
        created_at=row[15],
        finished_at=row[16],
    )


def with_reused_result(trial: TrialRecord, trials: list[TrialRecord]) -> TrialRecord:
    """A compactly stored duplicate with the result of the trial it reuses filled in."""
    if trial.duplicate_of is None or trial.metrics or trial.error or not trial.finished:
        return trial
    earlier = trials[trial.duplicate_of] if trial.duplicate_of < len(trials) else None
    if earlier is None or earlier.number != trial.duplicate_of:
        return trial
    return dataclasses.replace(
        trial,
        status=earlier.status,
        metrics=dict(earlier.metrics),
        score=earlier.score,
        cost=earlier.cost,
        error=earlier.error,
        info=dict(earlier.info),
        scores=earlier.scores,
        violation=earlier.violation,
    )


def experiment_from_row(row: tuple[Any, ...]) -> ExperimentRecord:
    return ExperimentRecord(
        id=row[0],
        name=row[1],
        config=json.loads(row[2]),
        created_at=row[3],
        wall_seconds=row[4],
        shared=bool(row[5]),
    )
