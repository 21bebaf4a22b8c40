"""`Store`: a SQLite file holding experiments and the journal of their trials.

Every trial is written when it is created and again when it finishes. Writes go one per
transaction, or several in one `batch()`; either way a process killed at any point leaves a
consistent file whose trials are a prefix of what happened. Each write also takes the next
number of a per-experiment event sequence; replaying asks and tells in that order rebuilds a
strategy exactly.

A duplicate (a proposal whose result is reused from an earlier trial) is stored compactly:
its row names the earlier trial in ``duplicate_of`` and holds no metrics of its own;
`trials()` fills them in from that trial.
"""

from __future__ import annotations

import json
import math
import os
import socket
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nasforge.errors import StoreError
from nasforge.evaluate.result import Result
from nasforge.run.store_file import open_store_file
from nasforge.run.store_records import (
    ExperimentRecord,
    RunRecord,
    TrialRecord,
    experiment_from_row,
    trial_from_row,
    with_reused_result,
)
from nasforge.status import Status

__all__ = ["ExperimentExists", "ExperimentRecord", "RunRecord", "Store", "TrialRecord"]


class ExperimentExists(StoreError):
    """An experiment of that name is in the store already."""


class Store:
    """A nasforge store file (or ``":memory:"``). Opening never changes a file it did not make."""

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        """`read_only`: open an existing store for reading only (SQLite's ``mode=ro``), as
        the dashboard does while a search writes to it; it never creates or upgrades."""
        self.path = str(path)
        self.read_only = read_only
        self._db = open_store_file(self.path, read_only=read_only)
        self._in_batch = False

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- experiments ---------------------------------------------------------------
    def create_experiment(self, name: str, config: dict[str, Any]) -> ExperimentRecord:
        if self.get_experiment(name) is not None:
            raise ExperimentExists(f"experiment {name!r} already exists in {self.path}")
        try:
            self._write(
                "INSERT INTO experiments (name, config, created_at) VALUES (?, ?, ?)",
                (name, json.dumps(config, sort_keys=True), time.time()),
            )
        except sqlite3.IntegrityError:  # another process made it in the meantime
            raise ExperimentExists(f"experiment {name!r} already exists in {self.path}") from None
        record = self.get_experiment(name)
        assert record is not None
        return record

    def get_experiment(self, name: str) -> ExperimentRecord | None:
        row = self._db.execute(
            "SELECT id, name, config, created_at, wall_seconds, shared FROM experiments "
            "WHERE name = ?",
            (name,),
        ).fetchone()
        return None if row is None else experiment_from_row(row)

    @classmethod
    def existing(cls, path: str | Path) -> Store:
        """The store at `path`, which must exist (else StoreError: "store not found")."""
        if not Path(path).exists():
            raise StoreError(f"store not found: {path}")
        return cls(path)

    def pick_name(self, name: str | None) -> str:
        """`name`, or the only experiment's (StoreError where there are none or several)."""
        if name is not None:
            return name
        names = [record.name for record in self.experiments()]
        if len(names) == 1:
            return names[0]
        if not names:
            raise StoreError(f"store {self.path} holds no experiment")
        raise StoreError(
            f"store {self.path} holds several experiments; pick one with --name: {', '.join(names)}"
        )

    def experiment(self, name: str) -> ExperimentRecord:
        record = self.get_experiment(name)
        if record is None:
            known = ", ".join(e.name for e in self.experiments()) or "none"
            raise StoreError(f"no experiment {name!r} in {self.path}; experiments there: {known}")
        return record

    def experiments(self) -> list[ExperimentRecord]:
        rows = self._db.execute(
            "SELECT id, name, config, created_at, wall_seconds, shared FROM experiments ORDER BY id"
        ).fetchall()
        return [experiment_from_row(row) for row in rows]

    def update_config(self, experiment_id: int, config: dict[str, Any]) -> None:
        self._write(
            "UPDATE experiments SET config = ? WHERE id = ?",
            (json.dumps(config, sort_keys=True), experiment_id),
        )

    def record_final(self, experiment_id: int, final: dict[str, Any]) -> None:
        """Keep what retraining the winner measured (its test accuracy, and a baseline's when
        there is one) as the config entry ``"final"``, which later runs keep."""
        with self.batch():
            row = self._db.execute(
                "SELECT config FROM experiments WHERE id = ?", (experiment_id,)
            ).fetchone()
            if row is None:
                raise StoreError(f"no experiment with id {experiment_id} in {self.path}")
            self.update_config(experiment_id, {**json.loads(row[0]), "final": final})

    def add_wall_seconds(self, experiment_id: int, seconds: float) -> None:
        self._write(
            "UPDATE experiments SET wall_seconds = wall_seconds + ? WHERE id = ?",
            (seconds, experiment_id),
        )

    # -- trials --------------------------------------------------------------------
    def next_seq(self, experiment_id: int) -> int:
        row = self._db.execute(
            "SELECT MAX(MAX(created_seq), COALESCE(MAX(finished_seq), -1)) FROM trials "
            "WHERE experiment_id = ?",
            (experiment_id,),
        ).fetchone()
        return 0 if row[0] is None else int(row[0]) + 1

    def add_trial(
        self,
        experiment_id: int,
        number: int,
        arch: str,
        budget: float | None,
        seq: int,
        run_id: int | None = None,
    ) -> None:
        self._write(
            "INSERT INTO trials (experiment_id, number, arch, budget, status, created_seq, "
            "created_at, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (experiment_id, number, arch, budget, Status.RUNNING.value, seq, time.time(), run_id),
        )

    def add_trial_numbered_here(
        self, experiment_id: int, arch: str, budget: float | None, run_id: int | None
    ) -> tuple[int, int]:
        """Add a running trial under the next free number and sequence number, taken in the
        same transaction (so that processes sharing the experiment never collide); return
        them."""
        with self.batch():
            number = self._db.execute(
                "SELECT COALESCE(MAX(number) + 1, 0) FROM trials WHERE experiment_id = ?",
                (experiment_id,),
            ).fetchone()[0]
            seq = self.next_seq(experiment_id)
            self.add_trial(experiment_id, int(number), arch, budget, seq, run_id)
        return int(number), seq

    def finish_trial(
        self,
        experiment_id: int,
        number: int,
        result: Result,
        score: float | None,
        seq: int,
        duplicate_of: int | None = None,
        scores: tuple[float, ...] | None = None,
        violation: float = 0.0,
    ) -> None:
        metrics = {k: v for k, v in result.metrics.items() if math.isfinite(v)}
        self._write(
            "UPDATE trials SET status = ?, metrics = ?, score = ?, scores = ?, violation = ?, "
            "cost = ?, error = ?, info = ?, duplicate_of = ?, finished_seq = ?, finished_at = ? "
            "WHERE experiment_id = ? AND number = ?",
            (
                result.status.value,
                json.dumps(metrics),
                score,
                None if scores is None else json.dumps(list(scores)),
                violation if math.isfinite(violation) else None,
                result.cost,
                result.error,
                json.dumps(result.info),
                duplicate_of,
                seq,
                time.time(),
                experiment_id,
                number,
            ),
        )

    def add_duplicate(
        self,
        experiment_id: int,
        number: int,
        arch: str,
        budget: float | None,
        status: Status,
        duplicate_of: int,
        created_seq: int,
        finished_seq: int,
        run_id: int | None = None,
    ) -> None:
        """A finished trial that reuses the result of trial `duplicate_of` (one row, no metrics)."""
        now = time.time()
        self._write(
            "INSERT INTO trials (experiment_id, number, arch, budget, status, duplicate_of, "
            "created_seq, finished_seq, created_at, finished_at, run_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                experiment_id,
                number,
                arch,
                budget,
                status.value,
                duplicate_of,
                created_seq,
                finished_seq,
                now,
                now,
                run_id,
            ),
        )

    def finish_duplicate(
        self, experiment_id: int, number: int, status: Status, duplicate_of: int, seq: int
    ) -> None:
        """Finish a created trial as a reuse of trial `duplicate_of`'s result."""
        self._write(
            "UPDATE trials SET status = ?, duplicate_of = ?, finished_seq = ?, finished_at = ? "
            "WHERE experiment_id = ? AND number = ?",
            (status.value, duplicate_of, seq, time.time(), experiment_id, number),
        )

    def trials_since(self, experiment_id: int, seq: int) -> list[TrialRecord]:
        """The trials created or finished at sequence number `seq` or later, as stored (a
        compact duplicate without the result it reuses)."""
        rows = self._db.execute(
            f"SELECT {_TRIAL_COLUMNS} FROM trials WHERE experiment_id = ? AND created_seq >= ? "
            f"UNION SELECT {_TRIAL_COLUMNS} FROM trials WHERE experiment_id = ? "
            "AND finished_seq >= ? ORDER BY number",
            (experiment_id, seq, experiment_id, seq),
        ).fetchall()
        return [trial_from_row(row) for row in rows]

    def finish_trial_numbered_here(
        self,
        experiment_id: int,
        number: int,
        result: Result,
        score: float | None,
        scores: tuple[float, ...] | None,
        violation: float,
        duplicate_of: int | None = None,
    ) -> int:
        """Finish a trial under the next sequence number, taken in the same transaction;
        return it. A duplicate stores only the reference to the trial it reuses."""
        with self.batch():
            seq = self.next_seq(experiment_id)
            if duplicate_of is None:
                self.finish_trial(
                    experiment_id, number, result, score, seq, None, scores, violation
                )
            else:
                self.finish_duplicate(experiment_id, number, result.status, duplicate_of, seq)
        return seq

    # -- runs: the processes that work on an experiment ----------------------------
    def start_run(self, experiment_id: int) -> int:
        now = time.time()
        with self.batch():
            self._write(
                "INSERT INTO runs (experiment_id, pid, host, started_at, heartbeat_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (experiment_id, os.getpid(), socket.gethostname(), now, now),
            )
            row = self._db.execute("SELECT last_insert_rowid()").fetchone()
        return int(row[0])

    def heartbeat(self, run_id: int) -> None:
        self._write("UPDATE runs SET heartbeat_at = ? WHERE id = ?", (time.time(), run_id))

    def end_run(self, run_id: int) -> None:
        self._write("UPDATE runs SET ended_at = ? WHERE id = ?", (time.time(), run_id))

    def live_runs(self, experiment_id: int, *, other_than: int | None = None) -> list[RunRecord]:
        """The other processes still running the experiment: on this host, those whose
        process is alive; elsewhere, those heard from in the last `REMOTE_RUN_TIMEOUT` s."""
        rows = self._db.execute(
            "SELECT id, pid, host, heartbeat_at FROM runs WHERE experiment_id = ? "
            "AND ended_at IS NULL AND id != ?",
            (experiment_id, -1 if other_than is None else other_than),
        ).fetchall()
        runs = [RunRecord(*row) for row in rows]
        return [run for run in runs if _alive(run)]

    def mark_shared(self, experiment_id: int) -> None:
        self._write("UPDATE experiments SET shared = 1 WHERE id = ?", (experiment_id,))

    def is_shared(self, experiment_id: int) -> bool:
        row = self._db.execute(
            "SELECT shared FROM experiments WHERE id = ?", (experiment_id,)
        ).fetchone()
        return bool(row and row[0])

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Run the writes inside in one transaction: all of them land, or none."""
        if self._in_batch:
            yield
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"cannot write to store {self.path}: {exc}") from None
        self._in_batch = True
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            self._db.execute("COMMIT")
        finally:
            self._in_batch = False

    def trials(self, experiment_id: int) -> list[TrialRecord]:
        rows = self._db.execute(
            f"SELECT {_TRIAL_COLUMNS} FROM trials WHERE experiment_id = ? ORDER BY number",
            (experiment_id,),
        ).fetchall()
        trials = [trial_from_row(row) for row in rows]
        return [with_reused_result(trial, trials) for trial in trials]

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        if self._in_batch:
            self._db.execute(sql, params)
            return
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute(sql, params)
                self._db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"cannot write to store {self.path}: {exc}") from None


_TRIAL_COLUMNS = (
    "number, arch, budget, status, metrics, score, cost, error, duplicate_of, created_seq, "
    "finished_seq, info, scores, violation, run_id, created_at, finished_at"
)
REMOTE_RUN_TIMEOUT = 300.0
"""Seconds without a heartbeat after which a run on another host counts as dead."""


def _alive(run: RunRecord) -> bool:
    if run.host != socket.gethostname():
        return time.time() - run.heartbeat_at < REMOTE_RUN_TIMEOUT
    try:
        os.kill(run.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child that its parent has not reaped yet is a zombie: dead
        stat = Path(f"/proc/{run.pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
