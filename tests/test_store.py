"""The SQLite store: it journals trials, and never touches a file that is not its own."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from nasforge.errors import StoreError
from nasforge.evaluate import Result, Status
from nasforge.run.storage import Store


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_trials_are_journaled_when_created_and_finished(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    with Store(path) as store:
        record = store.create_experiment("exp", {"budget": {"queries": 3}})
        store.add_trial(record.id, 0, "a=1", 12.0, seq=store.next_seq(record.id))
        store.add_trial(record.id, 1, "a=2", 12.0, seq=store.next_seq(record.id))
        store.finish_trial(record.id, 0, Result({"valid_acc": 50.0}, cost=3.0), 50.0, seq=2)
    with Store(path) as reopened:
        trials = reopened.trials(reopened.experiment("exp").id)
    assert [(t.number, t.status, t.score, t.created_seq, t.finished_seq) for t in trials] == [
        (0, Status.OK, 50.0, 0, 2),
        (1, Status.RUNNING, None, 1, None),
    ]
    assert trials[0].metrics == {"valid_acc": 50.0} and trials[0].cost == 3.0
    assert reopened.path == str(path)


def test_duplicate_experiment_name_is_refused(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        store.create_experiment("exp", {})
        with pytest.raises(StoreError, match="already exists"):
            store.create_experiment("exp", {})


def test_missing_experiment_names_those_present(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        store.create_experiment("first", {})
        with pytest.raises(StoreError, match=r"no experiment 'other'.*first"):
            store.experiment("other")


@pytest.mark.parametrize(
    "content",
    [b"hello, this is a text file\n", b"\x00\x01\x02binary" * 100],
    ids=["text", "binary"],
)
def test_a_file_that_is_not_sqlite_is_refused_and_left_intact(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_bytes(content)
    with pytest.raises(StoreError, match="is not a nasforge store"):
        Store(path)
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.sqlite"]


def test_an_sqlite_file_of_another_program_is_refused_and_left_intact(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
    connection.execute("INSERT INTO customers VALUES (1, 'Ada')")
    connection.commit()
    connection.close()
    before = _digest(path)
    with pytest.raises(StoreError, match="is not a nasforge store"):
        Store(path)
    assert _digest(path) == before


def test_a_store_of_another_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    Store(path).close()
    connection = sqlite3.connect(path)
    connection.execute("UPDATE meta SET value = '99' WHERE key = 'version'")
    connection.commit()
    connection.close()
    with pytest.raises(StoreError, match="version 99"):
        Store(path)


def test_a_directory_or_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a directory"):
        Store(tmp_path)
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "missing" / "s.sqlite")


V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE experiments (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
    config TEXT NOT NULL, created_at REAL NOT NULL, wall_seconds REAL NOT NULL DEFAULT 0);
CREATE TABLE trials (experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    number INTEGER NOT NULL, arch TEXT NOT NULL, budget REAL, status TEXT NOT NULL,
    metrics TEXT, score REAL, scores TEXT, violation REAL, cost REAL, error TEXT, info TEXT,
    duplicate_of INTEGER, created_seq INTEGER NOT NULL, finished_seq INTEGER,
    created_at REAL NOT NULL, finished_at REAL, PRIMARY KEY (experiment_id, number));
INSERT INTO meta VALUES ('format', 'nasforge-store'), ('version', '1');
INSERT INTO experiments VALUES (1, 'old', '{}', 0, 5.0);
INSERT INTO trials VALUES (1, 0, 'a=1', 12, 'ok', '{"acc": 50.0}', 50.0, '[50.0]', 0, 3.0,
    NULL, '{}', NULL, 0, 1, 0, 0);
INSERT INTO trials VALUES (1, 1, 'a=1', 12, 'ok', '{"acc": 50.0}', 50.0, '[50.0]', 0, 3.0,
    NULL, '{}', 0, 2, 3, 0, 0);
"""


def test_a_version_1_store_is_upgraded_in_place_and_keeps_its_trials(tmp_path: Path) -> None:
    path = tmp_path / "v1.sqlite"
    with sqlite3.connect(path) as connection:
        connection.executescript(V1_SCHEMA)
    with Store(path) as store:
        record = store.experiment("old")
        trials = store.trials(record.id)
        assert not record.shared and record.wall_seconds == 5.0
        assert [(t.number, t.score, t.duplicate_of, t.metrics) for t in trials] == [
            (0, 50.0, None, {"acc": 50.0}),
            (1, 50.0, 0, {"acc": 50.0}),
        ]
        run = store.start_run(record.id)
        assert store.live_runs(record.id) != [] and store.live_runs(record.id, other_than=run) == []
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT value FROM meta WHERE key='version'").fetchone() == ("2",)


def test_a_duplicate_is_stored_as_a_reference_and_read_back_with_the_result(
    tmp_path: Path,
) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        record = store.create_experiment("e", {})
        store.add_trial(record.id, 0, "a=1", 12.0, seq=0)
        store.finish_trial(record.id, 0, Result({"acc": 70.0}, cost=2.0), 70.0, seq=1)
        store.add_duplicate(record.id, 1, "a=1", 12.0, Status.OK, 0, 2, 3)
        raw = store._db.execute("SELECT metrics, score FROM trials WHERE number = 1").fetchone()
        trials = store.trials(record.id)
    assert raw == (None, None), "the duplicate row holds no copy of the result"
    assert trials[1].duplicate_of == 0 and not trials[1].evaluated
    assert (trials[1].metrics, trials[1].score, trials[1].cost) == ({"acc": 70.0}, 70.0, 2.0)
