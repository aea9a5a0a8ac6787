"""Saving, loading, listing and deleting races (and pipeline passes) in the run store.

A stored race is rebuilt into the same `Run` and `Result` objects the engine made, with the
run's clock at 0, so every report and the `run --json` document come from the same code as
when the race was live. Times are kept as offsets from the run's start: the difference of two
nearby `perf_counter()` stamps is exact, so the rebuilt document matches the printed one.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from providers.environment import redact, secrets_read_once
from providers.failures import FailureKind
from providers.looplag import LoopLag
from providers.record import Attempt, Result, Run, State, document, speedup
from providers.store import codec
from providers.store.db import connect, default_path, failures_as_store_errors, transaction


class UnknownRace(LookupError):
    """No stored race has that id."""


@dataclass(eq=False)
class StoredRace:
    """One race or pipeline as the store keeps it; `runs` are the engine's own objects."""

    prompt: str
    runs: list[Run]
    mode: str
    kind: str = "race"
    system: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    interrupted: bool = False
    parent_id: int | None = None
    turn: int = 0
    id: int | None = None
    created: str | None = None

    @property
    def pipeline(self) -> str | None:
        name = self.settings.get("pipeline")
        return name if isinstance(name, str) else None

    @property
    def models(self) -> list[str]:
        return [r.source for r in self.runs[0].results] if self.runs else []

    @property
    def turn_number(self) -> int:
        """Its turn in its conversation, from 1 (races saved before turns were counted: 0)."""
        return max(self.turn, 1)

    def document(self) -> dict[str, object]:
        """What `run --json` (or `pipeline --json`) printed, plus `id`."""
        doc: dict[str, object] = {"id": self.id, **document(self.prompt, self.runs)}
        if self.kind == "pipeline":
            doc["pipeline"] = self.pipeline
        if self.turn_number > 1:
            doc.update(conversation_fields(self.turn_number, self.parent_id))
        return doc


def conversation_fields(turn: int, parent_id: int | None) -> dict[str, object]:
    """What a follow-up's JSON document adds (a first turn adds nothing)."""
    return {"turn": turn, "parent_id": parent_id}


def from_race(race: Any, *, interrupted: bool = False) -> StoredRace:
    """A `providers.race.Race` after its run (typed loosely: the store sits below the engine)."""
    request = race.request
    follow_up = getattr(race, "follow_up", None)
    settings = {
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
        "timeout": request.timeout,
    }
    return StoredRace(
        request.prompt,
        race.runs,
        str(race.mode),
        system=request.system,
        settings=settings,
        interrupted=interrupted,
        parent_id=None if follow_up is None else follow_up.parent_id,
        turn=1 if follow_up is None else follow_up.turn,
    )


def from_pipeline(pipe: Any, *, interrupted: bool = False) -> StoredRace:
    """A `providers.pipeline.PipelineRun` after its passes."""
    pipeline = pipe.pipeline
    settings = {"pipeline": pipeline.name, "file": pipeline.source}
    return StoredRace(
        pipe.input,
        pipe.runs,
        str(pipe.mode),
        kind="pipeline",
        settings=settings,
        interrupted=interrupted,
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _rel(t: float | None, t0: float) -> float | None:
    return None if t is None else t - t0


def _result_row(run_id: int, position: int, t0: float, r: Result) -> tuple[object, ...]:
    text, lengths = codec.scrubbed(list(r.chunks))
    base = r.start if r.start is not None else t0
    fields: dict[str, object] = {}
    step = getattr(r, "step", None)
    if step is not None:
        fields = {
            "step": step,
            "kind": getattr(r, "kind", "llm"),
            "after": list(getattr(r, "after", [])),
            "prompt": getattr(r, "prompt", None),
        }
    if r.failed_attempts or r.attempt_start != r.start:
        fields["attempt_start"] = _rel(r.attempt_start, t0)
        fields["failed_attempts"] = [
            [a.start - t0, a.end - t0, a.error, str(a.kind), a.status] for a in r.failed_attempts
        ]
    extra = redact(json.dumps(fields)) if fields else None
    return (
        run_id,
        position,
        redact(r.source),
        str(r.state),
        None if r.error_kind is None else str(r.error_kind),
        None if r.error is None else redact(r.error),
        r.http_status,
        text,
        _rel(r.start, t0),
        _rel(r.first_token, t0),
        _rel(r.end, t0),
        r.input_tokens,
        r.reported_output_tokens,
        r.output_tokens,
        codec.pack(lengths),
        codec.pack(codec.offsets_us(list(r.chunk_times), base)),
        extra,
    )


def _run_extra(run: Run) -> str | None:
    """A run's measurements that have no column of their own, as `Run.to_json` shows them."""
    if run.loop_lag is None:
        return None
    return json.dumps({"loop_lag": run.loop_lag.to_json(run.t0 or 0.0)})


def _insert(conn: sqlite3.Connection, race: StoredRace) -> int:
    cur = conn.execute(
        "INSERT INTO races (created, kind, prompt, system, settings, mode, models, parent_id,"
        " turn, interrupted, speedup, speedup_known) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
        (
            race.created or _now(),
            race.kind,
            redact(race.prompt),
            None if race.system is None else redact(race.system),
            redact(json.dumps(race.settings)),
            race.mode,
            redact(" ".join(race.models)),
            race.parent_id,
            race.turn,
            int(race.interrupted),
            speedup(race.runs),
        ),
    )
    race_id = int(cur.lastrowid or 0)
    for position, run in enumerate(race.runs):
        cur = conn.execute(
            "INSERT INTO runs (race_id, position, mode, concurrent, pool_size, slot_limit,"
            " wall_s, ideal_s, overhead_s, cancelled, extra)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                race_id,
                position,
                run.mode,
                int(run.concurrent),
                run.pool_size,
                run.limit,
                run.wall_s,
                run.ideal_s,
                run.overhead_s,
                int(run.cancelled),
                _run_extra(run),
            ),
        )
        run_id = int(cur.lastrowid or 0)
        t0 = run.t0 or 0.0
        conn.executemany(
            "INSERT INTO results (run_id, position, spec, state, error_kind, error, http_status,"
            " text, start_s, first_token_s, end_s, input_tokens, reported_tokens,"
            " estimated_tokens, chunk_lengths, chunk_offsets, extra)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [_result_row(run_id, i, t0, r) for i, r in enumerate(run.results)],
        )
    return race_id


def save(race: StoredRace, path: Path | None = None, *, keep: int | None = None) -> int:
    """Store a finished race in one transaction and return its id (blocking: call it from a
    worker thread, e.g. `await asyncio.to_thread(save, race)`, never on an event loop).

    `keep` (the config's `keep_runs`) deletes all but the newest `keep` races in the same
    transaction. Raises `StoreError` (one line) when the store cannot be used; the race
    itself is untouched.
    """
    return save_many([race], path, keep=keep)[0]


def save_many(
    races: list[StoredRace], path: Path | None = None, *, keep: int | None = None
) -> list[int]:
    """Store several races in one transaction (all or none); their ids, in order."""
    path = default_path() if path is None else path
    with failures_as_store_errors(path):
        conn = connect(path)
        assert conn is not None
        with transaction(conn), secrets_read_once():
            ids = [_insert(conn, race) for race in races]
            if keep is not None:
                conn.execute(
                    "DELETE FROM races WHERE id NOT IN"
                    " (SELECT id FROM races ORDER BY id DESC LIMIT ?)",
                    (max(keep, 1),),
                )
    for race, race_id in zip(races, ids, strict=True):
        race.id = race_id
    return ids


# --- reading ------------------------------------------------------------------------------


def _result(row: sqlite3.Row) -> Result:
    lengths = codec.unpack(row["chunk_lengths"])
    extra = json.loads(row["extra"]) if row["extra"] else {}
    if "step" in extra:
        from providers.pipeline.runner import StepResult

        result: Result = StepResult(
            row["spec"],
            step=extra["step"],
            kind=extra["kind"],
            after=list(extra["after"]),
            prompt=extra["prompt"],
        )
    else:
        result = Result(row["spec"])
    result.state = State(row["state"])
    result.chunks = codec.split(row["text"], lengths)
    base = row["start_s"] if row["start_s"] is not None else 0.0
    result.chunk_times = [base + us / 1_000_000 for us in codec.unpack(row["chunk_offsets"])]
    result.error = row["error"]
    result.error_kind = None if row["error_kind"] is None else FailureKind(row["error_kind"])
    result.http_status = row["http_status"]
    result.start = row["start_s"]
    result.first_token = row["first_token_s"]
    result.end = row["end_s"]
    result.input_tokens = row["input_tokens"]
    result.reported_output_tokens = row["reported_tokens"]
    # Rows without it had one attempt, started with the result (older files too).
    result.attempt_start = extra.get("attempt_start", result.start)
    result.failed_attempts = [
        Attempt(start, end, error, FailureKind(kind), status)
        for start, end, error, kind, status in extra.get("failed_attempts", [])
    ]
    return result


def _run(conn: sqlite3.Connection, row: sqlite3.Row, kind: str, pipeline: str | None) -> Run:
    rows = conn.execute(
        "SELECT * FROM results WHERE run_id = ? ORDER BY position", (row["id"],)
    ).fetchall()
    results = [_result(r) for r in rows]
    fields = {
        "mode": row["mode"],
        "results": results,
        "concurrent": bool(row["concurrent"]),
        "t0": 0.0,
        "t_end": row["wall_s"],
        "pool_size": row["pool_size"],
        "limit": row["slot_limit"],
        "cancelled": bool(row["cancelled"]),
    }
    extra = json.loads(row["extra"]) if row["extra"] else {}
    if isinstance(extra.get("loop_lag"), dict):
        fields["loop_lag"] = LoopLag.from_json(extra["loop_lag"])
    if kind == "pipeline":
        from providers.pipeline.runner import PipelinePass

        return PipelinePass(**fields, pipeline=pipeline or "")
    return Run(**fields)


def _open_for_reading(path: Path | None) -> tuple[Path, sqlite3.Connection | None]:
    path = default_path() if path is None else path
    conn = connect(path, create=False)
    if conn is not None:
        conn.row_factory = sqlite3.Row
    return path, conn


def load(race_id: int, path: Path | None = None) -> StoredRace:
    """The stored race `race_id`; `UnknownRace` when there is none."""
    path, conn = _open_for_reading(path)
    if conn is None:
        raise UnknownRace(race_id)
    with failures_as_store_errors(path):
        try:
            row = conn.execute("SELECT * FROM races WHERE id = ?", (race_id,)).fetchone()
            if row is None:
                raise UnknownRace(race_id)
            settings = json.loads(row["settings"] or "{}")
            name = settings.get("pipeline")
            runs = [
                _run(conn, r, row["kind"], name)
                for r in conn.execute(
                    "SELECT * FROM runs WHERE race_id = ? ORDER BY position", (race_id,)
                )
            ]
        finally:
            conn.close()
    return StoredRace(
        row["prompt"],
        runs,
        row["mode"],
        kind=row["kind"],
        system=row["system"],
        settings=settings,
        interrupted=bool(row["interrupted"]),
        parent_id=row["parent_id"],
        turn=row["turn"],
        id=row["id"],
        created=row["created"],
    )


# A conversation longer than this is surely a loop in hand-edited data, not a chat.
MAX_TURNS = 10_000


def conversation(race_id: int, path: Path | None = None) -> list[StoredRace]:
    """Race `race_id` and the races it follows, oldest first, by walking `parent_id`.

    A deleted turn ends the walk there (its child's `parent_id` became NULL): the
    conversation then starts at the oldest turn still stored. `UnknownRace` when there is
    no race `race_id`.
    """
    chain = [load(race_id, path)]
    seen = {race_id}
    while (parent := chain[-1].parent_id) is not None and parent not in seen:
        if len(chain) >= MAX_TURNS:
            break
        try:
            chain.append(load(parent, path))
        except UnknownRace:
            break
        seen.add(parent)
    chain.reverse()
    return chain


@dataclass(frozen=True)
class Summary:
    """One line of `history`."""

    id: int
    created: str
    kind: str
    mode: str
    models: list[str]
    prompt: str
    walls: list[tuple[str, float | None]]
    speedup: float | None
    interrupted: bool

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "created": self.created,
            "kind": self.kind,
            "mode": self.mode,
            "models": self.models,
            "prompt": self.prompt,
            "runs": [{"mode": m, "wall_s": w} for m, w in self.walls],
            "speedup": None if self.speedup is None else round(self.speedup, 4),
            "interrupted": self.interrupted,
        }


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def history(
    search: str | None = None, limit: int | None = 20, path: Path | None = None
) -> list[Summary]:
    """Newest first; `search` matches the prompt, system prompt or model specs."""
    path, conn = _open_for_reading(path)
    if conn is None:
        return []
    conn.row_factory = None
    with failures_as_store_errors(path):
        try:
            where, args = "", list[str | int]()
            if search:
                where = (
                    "WHERE prompt LIKE ? ESCAPE '\\' OR system LIKE ? ESCAPE '\\'"
                    " OR models LIKE ? ESCAPE '\\'"
                )
                args = [_like(search)] * 3
            chosen = f"SELECT id FROM races {where} ORDER BY id DESC"
            if limit:
                chosen += " LIMIT ?"
                args.append(limit)
            races = conn.execute(
                "SELECT id, created, kind, mode, models, prompt, interrupted, speedup,"
                f" speedup_known FROM races WHERE id IN ({chosen}) ORDER BY id DESC",
                args,
            ).fetchall()
            walls: dict[int, list[tuple[str, float | None]]] = {r[0]: [] for r in races}
            for race_id, mode, wall in conn.execute(
                f"SELECT race_id, mode, wall_s FROM runs WHERE race_id IN ({chosen})"
                " ORDER BY race_id, position",
                args,
            ):
                walls[race_id].append((mode, wall))
            ratios = {r[0]: r[7] for r in races if r[8]}
            older = [r[0] for r in races if not r[8]]
            ratios.update(_speedups_of(conn, older))
        finally:
            conn.close()
    return [
        Summary(
            race_id,
            created,
            kind,
            mode,
            models.split(),
            prompt,
            walls[race_id],
            ratios.get(race_id),
            bool(interrupted),
        )
        for race_id, created, kind, mode, models, prompt, interrupted, _, _ in races
    ]


def _speedups_of(conn: sqlite3.Connection, ids: list[int]) -> dict[int, float | None]:
    """The speedup of races saved before it was stored with them, from their outcomes."""
    out: dict[int, float | None] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        sides: dict[int, list[Run[Result]]] = {i: [] for i in chunk}
        for race_id, mode, wall, cancelled in conn.execute(
            f"SELECT race_id, mode, wall_s, cancelled FROM runs WHERE race_id IN ({marks})"
            " ORDER BY race_id, position",
            chunk,
        ):
            sides[race_id].append(
                Run(mode, [], False, t0=0.0, t_end=wall, cancelled=bool(cancelled))
            )
        for race_id, position, spec, state in conn.execute(
            "SELECT runs.race_id, runs.position, results.spec, results.state FROM results"
            f" JOIN runs ON results.run_id = runs.id WHERE runs.race_id IN ({marks})"
            " ORDER BY results.run_id, results.position",
            chunk,
        ):
            sides[race_id][position].results.append(Result(spec, state=State(state)))
        out.update({race_id: speedup(runs) for race_id, runs in sides.items()})
    return out


def delete(ids: list[int], path: Path | None = None) -> None:
    """Delete every race in `ids`, or none of them: `UnknownRace` names the first missing."""
    path, conn = _open_for_reading(path)
    if conn is None:
        raise UnknownRace(ids[0])
    with failures_as_store_errors(path), transaction(conn):
        for race_id in ids:
            if not conn.execute("SELECT 1 FROM races WHERE id = ?", (race_id,)).fetchone():
                raise UnknownRace(race_id)
        conn.executemany("DELETE FROM races WHERE id = ?", [(i,) for i in ids])
