"""Opening a store file: refusing what is not a nasforge store, creating the schema in a new
file (or joining the one another process just created), upgrading an older version, and the
SQLite settings that keep the file consistent when a process is killed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from nasforge.errors import StoreError
from nasforge.run.store_schema import FORMAT, SCHEMA, SQLITE_MAGIC, UPGRADES, VERSION


def open_store_file(path: str, *, read_only: bool) -> sqlite3.Connection:
    """A connection (autocommit; writes take explicit transactions) to the store at `path`
    (or ``":memory:"``), created if new unless `read_only`."""
    if path != ":memory:":
        _check_is_store_or_new(Path(path))
    if read_only:
        if not Path(path).is_file():
            raise StoreError(f"store not found: {path}")
        uri = Path(path).resolve().as_uri() + "?mode=ro"
        db = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30.0)
    else:
        db = sqlite3.connect(path, isolation_level=None, timeout=30.0)
    try:
        db.execute("PRAGMA foreign_keys = ON")
        _prepare(db, path, read_only)
    except sqlite3.DatabaseError as exc:
        db.close()
        raise StoreError(f"{path} is not a nasforge store ({exc})") from None
    except StoreError:
        db.close()
        raise
    return db


def _tables(db: sqlite3.Connection) -> set[str]:
    rows = db.execute("SELECT name FROM sqlite_master WHERE type='table'")
    return {row[0] for row in rows}


def _prepare(db: sqlite3.Connection, path: str, read_only: bool) -> None:
    tables = _tables(db)
    if read_only:
        _check_meta(db, path, tables, read_only)
        return
    if not tables:
        _create_or_join(db, path)
    else:
        _check_meta(db, path, tables, read_only)
    if path != ":memory:":
        # Durable against a killed process; one fsync per checkpoint, not per write.
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")


def _create_or_join(db: sqlite3.Connection, path: str) -> None:
    """Create the schema in a new file; if another process created it since this one
    looked (two searches starting on one new store), open what that one made."""
    try:
        db.executescript(
            f"BEGIN IMMEDIATE; {SCHEMA} INSERT INTO meta VALUES ('format', '{FORMAT}'), "
            f"('version', '{VERSION}'); COMMIT;"
        )
    except sqlite3.OperationalError as exc:
        if "already exists" not in str(exc):
            raise
        if db.in_transaction:
            db.execute("ROLLBACK")
        _check_meta(db, path, _tables(db), read_only=False)


def _check_meta(db: sqlite3.Connection, path: str, tables: set[str], read_only: bool) -> None:
    if "meta" not in tables:
        raise StoreError(f"{path} is not a nasforge store (an SQLite file of something else)")
    meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    if meta.get("format") != FORMAT:
        raise StoreError(f"{path} is not a nasforge store (an SQLite file of something else)")
    if meta.get("version") in UPGRADES and not read_only:
        db.executescript(
            f"BEGIN; {UPGRADES[meta['version']]} "
            f"UPDATE meta SET value = '{VERSION}' WHERE key = 'version'; COMMIT;"
        )
        meta["version"] = str(VERSION)
    if meta.get("version") != str(VERSION):
        raise StoreError(
            f"{path} is a nasforge store of version {meta.get('version')}; "
            f"this nasforge reads version {VERSION}"
        )


def _check_is_store_or_new(path: Path) -> None:
    """Refuse, before SQLite touches it, a file that is not an SQLite database."""
    if path.is_dir():
        raise StoreError(f"store path {path} is a directory, not a nasforge store")
    if not path.exists():
        if not path.parent.exists():
            raise StoreError(f"cannot create store {path}: folder {path.parent} does not exist")
        return
    try:
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise StoreError(f"cannot read store {path}: {exc.strerror}") from None
    if header and header != SQLITE_MAGIC:
        raise StoreError(f"{path} is not a nasforge store (not an SQLite file)")
