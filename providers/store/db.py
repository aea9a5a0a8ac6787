"""Opening the store: where it lives, its pragmas, and one clear line for every failure.

A store that cannot be used (corrupt, locked too long, read-only, full, newer than this
code) raises `StoreError` with a message fit for one line; nothing here ever deletes or
rewrites a file it could not read.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from providers.store.schema import LATEST, NotAStore, migrate, version_of

# How long a writer waits for another process's transaction before giving up.
BUSY_TIMEOUT_S = 10.0


class StoreError(Exception):
    """The run store could not be used; the message is one line and names the file."""


def default_path() -> Path:
    """`$MODELRACE_DB`, else `modelrace.db` in the user data dir."""
    explicit = os.environ.get("MODELRACE_DB")
    if explicit:
        return Path(explicit).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("modelrace")) / "modelrace.db"


def describe(exc: BaseException, path: Path) -> str:
    """A failure of sqlite (or the file system) as one line for people."""
    text = str(exc).strip() or type(exc).__name__
    lower = text.lower()
    if "not a database" in lower or "malformed" in lower:
        return f"run store {path} is damaged ({text}); it was left untouched, move it away"
    if "locked" in lower or "busy" in lower:
        return f"run store {path} is locked by another process ({text})"
    if "readonly" in lower or "read-only" in lower:
        return f"run store {path} is read-only ({text})"
    if "full" in lower:
        return f"run store {path}: the disk is full ({text})"
    return f"run store {path}: {' '.join(text.split())}"


@contextmanager
def failures_as_store_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except StoreError:
        raise
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(describe(exc, path)) from None


def connect(path: Path | None = None, *, create: bool = True) -> sqlite3.Connection | None:
    """An open, migrated connection; None when `create` is off and there is no file yet."""
    path = default_path() if path is None else path
    if not create and not path.exists():
        return None
    with failures_as_store_errors(path):
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit: every write below opens its own explicit transaction.
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            version = version_of(conn)  # reading the header is what finds a corrupt file
            if version > LATEST:
                raise StoreError(
                    f"run store {path} has schema version {version}, newer than this "
                    f"modelrace knows ({LATEST}); it was left untouched, upgrade modelrace"
                )
            migrate(conn)  # before WAL: a file that is refused keeps every byte
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            # WAL with NORMAL sync: a crash may lose the last save, never corrupt the file.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        except NotAStore:
            conn.close()
            raise StoreError(
                f"{path} is an SQLite file of some other program, not a modelrace run store; "
                "it was left untouched"
            ) from None
        except BaseException:
            conn.close()
            raise
        return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any error, the connection closed after: every
    writer of the store goes through it, so none leaves a write half done or a lock held."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()
