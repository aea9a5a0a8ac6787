"""The prompt history (up/down in the prompt box) in the run store.

Each sent prompt is one row, scrubbed of keys. The old `history.jsonl` is imported once: the
store remembers that it did (a `meta` row naming the file), and the file is never written or
removed, so an older modelrace that still uses it loses nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from providers.environment import redact
from providers.store.db import connect, default_path, failures_as_store_errors, transaction

MAX_PROMPTS = 500


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def add_prompt(prompt: str, path: Path | None = None) -> None:
    """Remember a sent prompt (blocking: from a worker thread); a repeat of the last is skipped."""
    path = default_path() if path is None else path
    text = redact(prompt)
    with failures_as_store_errors(path):
        conn = connect(path)
        assert conn is not None
        with transaction(conn):
            last = conn.execute("SELECT prompt FROM prompts ORDER BY id DESC LIMIT 1").fetchone()
            if last is None or last[0] != text:
                conn.execute("INSERT INTO prompts (created, prompt) VALUES (?, ?)", (_now(), text))


def recent_prompts(limit: int = MAX_PROMPTS, path: Path | None = None) -> list[str]:
    """The newest `limit` prompts, oldest first (the order up/down walks)."""
    path = default_path() if path is None else path
    with failures_as_store_errors(path):
        conn = connect(path, create=False)
        if conn is None:
            return []
        try:
            rows = conn.execute(
                "SELECT prompt FROM prompts ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        finally:
            conn.close()
    return [row[0] for row in reversed(rows)]


def import_jsonl(source: Path, path: Path | None = None) -> int:
    """Copy the prompts of an old `history.jsonl` in, once per file; how many were copied."""
    path = default_path() if path is None else path
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return 0
    prompts = []
    for line in lines:
        try:
            prompt = json.loads(line).get("prompt")
        except (ValueError, AttributeError):
            continue
        if isinstance(prompt, str) and prompt:
            prompts.append(redact(prompt))
    key = f"imported:{source.resolve()}"
    with failures_as_store_errors(path):
        conn = connect(path)
        assert conn is not None
        with transaction(conn):
            if conn.execute("SELECT 1 FROM meta WHERE key = ?", (key,)).fetchone():
                return 0
            # Older than anything typed since: they go in before the rows already there.
            first = conn.execute("SELECT MIN(id) FROM prompts").fetchone()[0]
            start = (first if first is not None else 1) - len(prompts)
            conn.executemany(
                "INSERT INTO prompts (id, created, prompt) VALUES (?, ?, ?)",
                [(start + i, _now(), p) for i, p in enumerate(prompts)],
            )
            conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, _now()))
    return len(prompts)
