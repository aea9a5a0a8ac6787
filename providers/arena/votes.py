"""Votes on a race's answers, kept in the run store.

A vote is cast on one race (one conversation turn) over the models it showed. `verdict` is
"win" (`winner` names the chosen spec), "tie" (all shown answers equally good) or "all_bad".
The leaderboard turns a vote into pairs: a win beats every other shown model, a tie or an
all-bad vote is half a win each way for every pair.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from providers.store.db import connect, default_path, failures_as_store_errors, transaction

VERDICTS = ("win", "tie", "all_bad")


class VoteRefused(Exception):
    """A vote that cannot be recorded; the message is one line for people."""


@dataclass(frozen=True, slots=True)
class Vote:
    race_id: int
    models: tuple[str, ...]
    verdict: str
    winner: str | None = None
    turn: int = 0
    blind: bool = False
    created: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise VoteRefused(f"unknown verdict {self.verdict!r} (one of {', '.join(VERDICTS)})")
        if len(set(self.models)) < 2:
            raise VoteRefused("a vote needs at least two different models")
        if (self.verdict == "win") != (self.winner is not None):
            raise VoteRefused("a win names its winner, and only a win does")
        if self.winner is not None and self.winner not in self.models:
            raise VoteRefused(f"{self.winner} was not in this race")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def record_vote(vote: Vote, path: Path | None = None) -> None:
    """Store a vote (blocking: from a worker thread); a second vote on a race is refused."""
    path = default_path() if path is None else path
    with failures_as_store_errors(path):
        conn = connect(path)
        assert conn is not None
        try:
            with transaction(conn):
                if (
                    conn.execute("SELECT 1 FROM races WHERE id = ?", (vote.race_id,)).fetchone()
                    is None
                ):
                    raise VoteRefused(f"no race {vote.race_id} in the run store")
                conn.execute(
                    "INSERT INTO votes (created, race_id, turn, models, verdict, winner, blind)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        vote.created or _now(),
                        vote.race_id,
                        vote.turn,
                        json.dumps(list(vote.models)),
                        vote.verdict,
                        vote.winner,
                        int(vote.blind),
                    ),
                )
        except sqlite3.IntegrityError:
            raise VoteRefused(f"race {vote.race_id} already has a vote") from None
        finally:
            conn.close()


def load_votes(path: Path | None = None) -> list[Vote]:
    """Every stored vote, oldest first (nothing stored yet: an empty list)."""
    path = default_path() if path is None else path
    with failures_as_store_errors(path):
        conn = connect(path, create=False)
        if conn is None:
            return []
        try:
            rows = conn.execute(
                "SELECT race_id, models, verdict, winner, turn, blind, created FROM votes"
                " ORDER BY id"
            ).fetchall()
        finally:
            conn.close()
    return [
        Vote(
            race_id=row[0],
            models=tuple(json.loads(row[1])),
            verdict=row[2],
            winner=row[3],
            turn=row[4],
            blind=bool(row[5]),
            created=row[6],
        )
        for row in rows
    ]
