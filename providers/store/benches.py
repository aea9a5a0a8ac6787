"""Benches in the run store: one row of the v2 `bench` table per bench, repeat or sweep.

A bench is kept as the exact JSON document `bench --json` printed (every sample in it, so
anyone can recompute) and the text report `bench` printed, so `show bN` reprints both as
they were. Bench ids have their own sequence; people see them as `b3`, races as `3`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from providers.environment import redact
from providers.store.db import connect, default_path, failures_as_store_errors, transaction

PREFIX = "b"


class UnknownBench(LookupError):
    """No stored bench has that id."""


@dataclass
class StoredBench:
    """A bench as the store keeps it: its `--json` document and its printed report."""

    prompt: str
    models: list[str]
    kind: str  # "repeat" or "concurrency"
    mode: str
    document: str  # the JSON text `bench --json` printed, byte for byte
    report: str
    interrupted: bool = False
    concurrency: int | None = None  # the highest level of a sweep
    id: int | None = None
    created: str | None = None

    @property
    def n_samples(self) -> int:
        doc = json.loads(self.document)
        if doc.get("bench") == "concurrency":
            return sum(len(c.get("samples", [])) for c in doc.get("cells", []))
        return len(doc.get("samples", []))

    def to_json(self) -> dict[str, object]:
        """`show bN --json`: the printed document with the stored id put first."""
        return {"id": f"{PREFIX}{self.id}", **json.loads(self.document)}


def parse_id(text: str) -> int | None:
    """`b3` → 3; None when `text` is not a bench id."""
    text = text.strip().lower()
    if text.startswith(PREFIX) and text[1:].isdigit():
        return int(text[1:])
    return None


def save_bench(bench: StoredBench, path: Path | None = None) -> int:
    """Store a bench in one transaction and return its id (blocking I/O)."""
    path = default_path() if path is None else path
    settings = {"kind": bench.kind, "interrupted": bench.interrupted, "report": bench.report}
    with failures_as_store_errors(path):
        conn = connect(path)
        assert conn is not None
        try:
            cur = conn.execute(
                "INSERT INTO bench (created, label, spec, mode, concurrency, settings, samples)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    bench.created or _now(),
                    redact(bench.prompt),
                    redact(" ".join(bench.models)),
                    bench.mode,
                    bench.concurrency,
                    redact(json.dumps(settings, ensure_ascii=False)),
                    redact(bench.document),
                ),
            )
            bench.id = int(cur.lastrowid or 0)
        finally:
            conn.close()
    return bench.id


def _from_row(row: tuple[object, ...]) -> StoredBench:
    bench_id, created, label, spec, mode, concurrency, settings_text, samples = row
    settings = json.loads(str(settings_text) or "{}")
    return StoredBench(
        prompt=str(label),
        models=str(spec).split(),
        kind=str(settings.get("kind", "repeat")),
        mode=str(mode),
        document=str(samples),
        report=str(settings.get("report", "")),
        interrupted=bool(settings.get("interrupted")),
        concurrency=None if concurrency is None else int(str(concurrency)),
        id=int(str(bench_id)),
        created=str(created),
    )


_COLUMNS = "id, created, label, spec, mode, concurrency, settings, samples"


def load_bench(bench_id: int, path: Path | None = None) -> StoredBench:
    path = default_path() if path is None else path
    conn = connect(path, create=False)
    if conn is None:
        raise UnknownBench(bench_id)
    with failures_as_store_errors(path):
        try:
            row = conn.execute(f"SELECT {_COLUMNS} FROM bench WHERE id = ?", (bench_id,)).fetchone()
        finally:
            conn.close()
    if row is None:
        raise UnknownBench(bench_id)
    return _from_row(row)


def bench_history(
    search: str | None = None, limit: int | None = None, path: Path | None = None
) -> list[StoredBench]:
    """Stored benches, newest first; `search` matches the prompt or the models."""
    path = default_path() if path is None else path
    conn = connect(path, create=False)
    if conn is None:
        return []
    query = f"SELECT {_COLUMNS} FROM bench"
    args: list[object] = []
    if search:
        like = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query += " WHERE label LIKE ? ESCAPE '\\' OR spec LIKE ? ESCAPE '\\'"
        args += [like, like]
    query += " ORDER BY id DESC"
    if limit:
        query += " LIMIT ?"
        args.append(limit)
    with failures_as_store_errors(path):
        try:
            rows = conn.execute(query, args).fetchall()
        finally:
            conn.close()
    return [_from_row(r) for r in rows]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def delete_benches(ids: list[int], path: Path | None = None, *, check_only: bool = False) -> None:
    """Delete every bench in `ids`, or none: `UnknownBench` names the first missing one.

    `check_only` checks without deleting, so a mixed `delete 3 b2` can refuse before either
    kind is touched."""
    path = default_path() if path is None else path
    conn = connect(path, create=False)
    if conn is None:
        raise UnknownBench(ids[0])
    with failures_as_store_errors(path), transaction(conn):
        for bench_id in ids:
            if not conn.execute("SELECT 1 FROM bench WHERE id = ?", (bench_id,)).fetchone():
                raise UnknownBench(bench_id)
        if not check_only:
            conn.executemany("DELETE FROM bench WHERE id = ?", [(i,) for i in ids])
