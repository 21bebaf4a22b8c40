"""`Journal`: an experiment's writes to its store, buffered and committed in batches.

Writing every trial in a transaction of its own costs more than a tabular evaluation; so
writes wait in order in a buffer, and go to the store together, in one transaction, once
`flush_seconds` have passed since the last commit (or `max_pending` writes are waiting, or
the loop ends). A commit holds a prefix of what happened, so a process killed at any moment
leaves a store that replays exactly: what was lost is re-asked and re-evaluated on resume.
An evaluation that takes longer than `flush_seconds` (any trained candidate) is committed as
soon as it finishes, so at most `flush_seconds` of work is ever done twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from nasforge.evaluate.result import Result
from nasforge.run.storage import Store, TrialRecord

FLUSH_SECONDS = 0.25
MAX_PENDING = 2000


class Journal:
    """Buffered writes of one experiment's trials and wall-clock time."""

    def __init__(
        self,
        store: Store,
        experiment_id: int,
        *,
        flush_seconds: float = FLUSH_SECONDS,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self.store = store
        self.experiment_id = experiment_id
        self.flush_seconds = flush_seconds
        self.max_pending = max_pending
        self._pending: list[Callable[[], None]] = []
        self._last_flush = self._wall_mark = time.monotonic()

    def created(self, trial: TrialRecord) -> None:
        self._pending.append(
            lambda: self.store.add_trial(
                self.experiment_id,
                trial.number,
                trial.arch,
                trial.budget,
                trial.created_seq,
                trial.run_id,
            )
        )

    def finished(self, trial: TrialRecord, result: Result) -> None:
        assert trial.finished_seq is not None
        seq = trial.finished_seq
        self._pending.append(
            lambda: self.store.finish_trial(
                self.experiment_id,
                trial.number,
                result,
                trial.score,
                seq,
                None,
                trial.scores,
                trial.violation,
            )
        )

    def duplicate(self, trial: TrialRecord, *, stored: bool) -> None:
        """A trial that reuses an earlier result; `stored` if its creation is journaled."""
        assert trial.duplicate_of is not None and trial.finished_seq is not None
        earlier, seq, status = trial.duplicate_of, trial.finished_seq, trial.status
        if stored:
            self._pending.append(
                lambda: self.store.finish_duplicate(
                    self.experiment_id, trial.number, status, earlier, seq
                )
            )
        else:
            self._pending.append(
                lambda: self.store.add_duplicate(
                    self.experiment_id,
                    trial.number,
                    trial.arch,
                    trial.budget,
                    status,
                    earlier,
                    trial.created_seq,
                    seq,
                    trial.run_id,
                )
            )

    def flush_if_due(self) -> None:
        due = time.monotonic() - self._last_flush >= self.flush_seconds
        if due or len(self._pending) >= self.max_pending:
            self.flush()

    def flush(self) -> None:
        """Commit every waiting write, and the wall-clock time since the last commit, in one
        transaction."""
        now = time.monotonic()
        with self.store.batch():
            for write in self._pending:
                write()
            self.store.add_wall_seconds(self.experiment_id, now - self._wall_mark)
        self._pending.clear()
        self._last_flush = self._wall_mark = now
