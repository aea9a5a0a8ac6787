"""The run store's schema as a list of forward migrations.

Step N turns a version N−1 file into version N (`PRAGMA user_version`), so any older file
opens in a newer modelrace with nothing dropped. Steps are appended, never edited: a file
written by an older release must meet exactly the SQL it was made with.
"""

from __future__ import annotations

import sqlite3

# Version 1: races, their runs (one per side) and every model's result.
_V1 = """
CREATE TABLE races (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('race', 'pipeline')),
    prompt TEXT NOT NULL,
    system TEXT,
    settings TEXT NOT NULL DEFAULT '{}',
    mode TEXT NOT NULL,
    models TEXT NOT NULL DEFAULT '',
    parent_id INTEGER REFERENCES races(id) ON DELETE SET NULL,
    turn INTEGER NOT NULL DEFAULT 0,
    interrupted INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    race_id INTEGER NOT NULL REFERENCES races(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    mode TEXT NOT NULL,
    concurrent INTEGER NOT NULL,
    pool_size INTEGER,
    slot_limit INTEGER,
    wall_s REAL,
    ideal_s REAL,
    overhead_s REAL,
    cancelled INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_by_race ON runs(race_id, position);
CREATE TABLE results (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    error_kind TEXT,
    error TEXT,
    http_status INTEGER,
    text TEXT NOT NULL DEFAULT '',
    start_s REAL,
    first_token_s REAL,
    end_s REAL,
    input_tokens INTEGER,
    reported_tokens INTEGER,
    estimated_tokens INTEGER,
    chunk_lengths BLOB NOT NULL DEFAULT x'',
    chunk_offsets BLOB NOT NULL DEFAULT x'',
    extra TEXT
);
CREATE INDEX results_by_run ON results(run_id, position);
"""

# Version 2: the prompt history (and what was imported into it), arena votes, bench samples.
_V2 = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE prompts (
    id INTEGER PRIMARY KEY,
    created TEXT NOT NULL,
    prompt TEXT NOT NULL
);
CREATE TABLE votes (
    id INTEGER PRIMARY KEY,
    created TEXT NOT NULL,
    race_id INTEGER NOT NULL REFERENCES races(id) ON DELETE CASCADE,
    winner TEXT,
    loser TEXT,
    verdict TEXT NOT NULL
);
CREATE TABLE bench (
    id INTEGER PRIMARY KEY,
    created TEXT NOT NULL,
    label TEXT NOT NULL,
    spec TEXT NOT NULL,
    mode TEXT NOT NULL,
    concurrency INTEGER,
    settings TEXT NOT NULL DEFAULT '{}',
    samples TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX races_by_created ON races(created);
"""

# Version 3: what a run measured beyond its columns, as JSON (e.g. its loop's lag).
_V3 = """
ALTER TABLE runs ADD COLUMN extra TEXT;
"""

# Version 4: the speedup the race claimed (`providers.record.speedup`), decided when it was
# saved, so listing 10,000 races needs no per-result work. Older rows: known = 0.
_V4 = """
ALTER TABLE races ADD COLUMN speedup REAL;
ALTER TABLE races ADD COLUMN speedup_known INTEGER NOT NULL DEFAULT 0;
"""

# Version 5: a vote names the conversation turn, the models shown (in panel order), the choice
# and whether it was cast blind; one vote per race (each turn is its own race).
_V5 = """
ALTER TABLE votes ADD COLUMN turn INTEGER NOT NULL DEFAULT 0;
ALTER TABLE votes ADD COLUMN models TEXT NOT NULL DEFAULT '[]';
ALTER TABLE votes ADD COLUMN blind INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX votes_once ON votes(race_id);
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4, _V5)
LATEST = len(MIGRATIONS)


class NotAStore(Exception):
    """Version 0 with tables in it: some other program's database, not an empty file."""


def version_of(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the file up to `LATEST` in one transaction; a second process waits, then skips."""
    if version_of(conn) >= LATEST:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = version_of(conn)  # another process may have migrated while we waited
        if current == 0 and conn.execute("SELECT 1 FROM sqlite_master").fetchone():
            raise NotAStore
        for number in range(current + 1, LATEST + 1):
            for statement in MIGRATIONS[number - 1].split(";"):
                if statement.strip():
                    conn.execute(statement)
        if current < LATEST:
            conn.execute(f"PRAGMA user_version = {LATEST}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
