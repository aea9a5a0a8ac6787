"""Small named values kept in the run store's `meta` table (JSON text), e.g. what the
dashboard remembers between launches.

Blocking I/O like the rest of the store: call these from a worker thread, never on an
event loop. Every value is scrubbed of keys before it is written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from providers.environment import redact
from providers.store.db import connect, default_path, failures_as_store_errors, transaction


def read_meta(prefix: str, path: Path | None = None) -> dict[str, Any]:
    """Every value whose key starts with `prefix`; empty when there is no store yet.

    A value that is not JSON (written by hand, or by something else) is left out.
    """
    path = default_path() if path is None else path
    with failures_as_store_errors(path):
        conn = connect(path, create=False)
        if conn is None:
            return {}
        try:
            rows = conn.execute(
                "SELECT key, value FROM meta WHERE substr(key, 1, ?) = ?", (len(prefix), prefix)
            ).fetchall()
        finally:
            conn.close()
    values: dict[str, Any] = {}
    for key, text in rows:
        try:
            values[key] = json.loads(text)
        except ValueError:
            continue
    return values


def write_meta(values: dict[str, Any], path: Path | None = None) -> None:
    """Set every key of `values` in one transaction (all or none)."""
    path = default_path() if path is None else path
    rows = [(key, redact(json.dumps(value, ensure_ascii=False))) for key, value in values.items()]
    with failures_as_store_errors(path):
        conn = connect(path)
        assert conn is not None
        with transaction(conn):
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                rows,
            )
