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
