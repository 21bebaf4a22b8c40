"""The SQL of a nasforge store (`nasforge.run.storage.Store`): its tables, its format and
version, and the statements that bring an older store up to date."""

from __future__ import annotations

FORMAT = "nasforge-store"
VERSION = 2
_RUNS = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    started_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL,
    ended_at REAL
);
CREATE INDEX trials_created ON trials (experiment_id, created_seq);
CREATE INDEX trials_finished ON trials (experiment_id, finished_seq);
"""
"""The runs table and the trial indexes, which version 2 added."""
UPGRADES = {
    "1": """
ALTER TABLE experiments ADD COLUMN shared INTEGER NOT NULL DEFAULT 0;
ALTER TABLE trials ADD COLUMN run_id INTEGER;
"""
    + _RUNS
}
"""SQL that brings a store of an older version (the key) to this one."""
SQLITE_MAGIC = b"SQLite format 3\x00"

SCHEMA = (
    """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE experiments (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    config TEXT NOT NULL,
    created_at REAL NOT NULL,
    wall_seconds REAL NOT NULL DEFAULT 0,
    shared INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE trials (
    experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    number INTEGER NOT NULL,
    arch TEXT NOT NULL,
    budget REAL,
    status TEXT NOT NULL,
    metrics TEXT,
    score REAL,
    scores TEXT,
    violation REAL,
    cost REAL,
    error TEXT,
    info TEXT,
    duplicate_of INTEGER,
    created_seq INTEGER NOT NULL,
    finished_seq INTEGER,
    created_at REAL NOT NULL,
    finished_at REAL,
    run_id INTEGER,
    PRIMARY KEY (experiment_id, number)
);
"""
    + _RUNS
)
