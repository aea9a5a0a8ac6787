"""The run store through its API: migrations, concurrency, scrubbing, and refusing bad files."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from providers import store
from providers.events import Failed, Finished, Started, TextDelta, Usage
from providers.failures import FailureKind
from providers.record import Result, Run, document
from providers.store.export import to_html, to_markdown

ROOT = Path(__file__).resolve().parent.parent
T0 = 5000.0  # a perf_counter() reading, as the engine would have


def _result(model: str, pieces: list[str], *, fail: str | None = None) -> Result:
    r = Result(model)
    r.apply(Started(T0 + 0.01))
    for i, piece in enumerate(pieces):
        r.apply(TextDelta(T0 + 0.1 + i * 0.013, piece))
    if fail:
        r.apply(Failed(T0 + 0.5, fail, FailureKind.HTTP, 503))
    else:
        r.apply(Usage(T0 + 0.49, 7, len(pieces)))
        r.apply(Finished(T0 + 0.5))
    return r


def _race(prompt: str = "why asyncio?") -> store.StoredRace:
    runs = [
        Run(
            mode,
            [_result("sim:a", ["Hello ", "world", "."]), _result("sim:b", ["par"], fail="boom")],
            concurrent=mode == "async",
            t0=T0,
            t_end=T0 + 0.75,
        )
        for mode in ("sync", "async")
    ]
    return store.StoredRace(prompt, runs, "both", settings={"temperature": 0.5})


def test_a_saved_race_loads_into_the_same_document_and_chunks(tmp_path: Path):
    db = tmp_path / "r.db"
    race = _race()
    original = document(race.prompt, race.runs)

    first, second = store.save(race, db), store.save(_race("second"), db)

    back = store.load(first, db)
    assert (first, second) == (1, 2)
    assert back.document() == {"id": 1, **original}
    assert back.runs[0].results[0].chunks == ["Hello ", "world", "."]
    gaps = [t - back.runs[0].results[0].start for t in back.runs[0].results[0].chunk_times]
    assert gaps == pytest.approx([0.09, 0.103, 0.116], abs=2e-6)
    assert back.runs[1].results[1].error_kind is FailureKind.HTTP
    assert back.runs[1].results[1].http_status == 503
    assert [s.id for s in store.history(path=db)] == [2, 1]
    assert [s.id for s in store.history("SECOND", path=db)] == [2]
    assert store.history(path=db)[0].speedup == pytest.approx(1.0)


def test_a_key_split_over_chunks_is_scrubbed_and_the_chunks_still_add_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    secret = "k3y-splitsecretvalue0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    db = tmp_path / "r.db"
    pieces = ["my key: k3y-split", "secretvalue", "0123456789 ok", " end"]
    race = _race(prompt=f"prompt with {secret}")
    race.runs[0].results[0] = _result("sim:a", pieces)
    race.system = f"system {secret}"

    race_id = store.save(race, db)

    stored = store.load(race_id, db).runs[0].results[0]
    assert stored.text == "my key: *** ok end"
    assert "".join(stored.chunks) == stored.text and len(stored.chunks) == 4
    assert stored.chunks[-1] == " end"
    for file in tmp_path.iterdir():
        assert secret.encode() not in file.read_bytes(), file


OLD_V1 = """
CREATE TABLE races (id INTEGER PRIMARY KEY AUTOINCREMENT, created TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('race', 'pipeline')), prompt TEXT NOT NULL, system TEXT,
    settings TEXT NOT NULL DEFAULT '{}', mode TEXT NOT NULL, models TEXT NOT NULL DEFAULT '',
    parent_id INTEGER REFERENCES races(id) ON DELETE SET NULL, turn INTEGER NOT NULL DEFAULT 0,
    interrupted INTEGER NOT NULL DEFAULT 0);
CREATE TABLE runs (id INTEGER PRIMARY KEY,
    race_id INTEGER NOT NULL REFERENCES races(id) ON DELETE CASCADE, position INTEGER NOT NULL,
    mode TEXT NOT NULL, concurrent INTEGER NOT NULL, pool_size INTEGER, slot_limit INTEGER,
    wall_s REAL, ideal_s REAL, overhead_s REAL, cancelled INTEGER NOT NULL DEFAULT 0);
CREATE INDEX runs_by_race ON runs(race_id, position);
CREATE TABLE results (id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, position INTEGER NOT NULL,
    spec TEXT NOT NULL, state TEXT NOT NULL, error_kind TEXT, error TEXT, http_status INTEGER,
    text TEXT NOT NULL DEFAULT '', start_s REAL, first_token_s REAL, end_s REAL,
    input_tokens INTEGER, reported_tokens INTEGER, estimated_tokens INTEGER,
    chunk_lengths BLOB NOT NULL DEFAULT x'', chunk_offsets BLOB NOT NULL DEFAULT x'',
    extra TEXT);
CREATE INDEX results_by_run ON results(run_id, position);
INSERT INTO races VALUES (7, '2026-01-02T03:04:05Z', 'race', 'old prompt', NULL, '{}', 'async',
    'sim:old', NULL, 0, 0);
INSERT INTO runs VALUES (1, 7, 0, 'async', 1, NULL, NULL, 0.5, 0.4, 0.1, 0);
INSERT INTO results VALUES (1, 1, 0, 'sim:old', 'done', NULL, NULL, NULL, 'Old answer.',
    0.1, 0.2, 0.5, NULL, 2, 2, x'0400000007000000', x'a086010040420f00', NULL);
PRAGMA user_version = 1;
"""


def test_a_version_1_file_is_migrated_and_keeps_its_races(tmp_path: Path):
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:
        conn.executescript(OLD_V1)

    new_id = store.save(_race("new"), db)

    old = store.load(7, db)
    assert new_id == 8
    assert old.runs[0].results[0].chunks == ["Old ", "answer."]
    assert old.document()["runs"][0]["results"][0]["text"] == "Old answer."  # type: ignore[index]
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == store.LATEST
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert {"prompts", "votes", "bench"} <= tables


def test_a_file_from_a_newer_modelrace_is_refused_and_left_alone(tmp_path: Path):
    db = tmp_path / "new.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 999")
    before = db.read_bytes()

    with pytest.raises(store.StoreError, match="newer than this modelrace") as caught:
        store.save(_race(), db)

    assert "\n" not in str(caught.value) and str(db) in str(caught.value)
    assert db.read_bytes() == before


def test_a_store_locked_too_long_is_one_line_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    db = tmp_path / "busy.db"
    store.save(_race("kept"), db)
    monkeypatch.setattr("providers.store.db.BUSY_TIMEOUT_S", 0.3)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(store.StoreError, match="locked") as caught:
            store.save(_race("blocked"), db)
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert "\n" not in str(caught.value) and str(db) in str(caught.value)
    assert store.save(_race("after"), db) == 2
    assert [s.prompt for s in store.history(path=db)] == ["after", "kept"]


def test_another_programs_database_is_refused_and_left_alone(tmp_path: Path):
    db = tmp_path / "theirs.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    before = db.read_bytes()

    with pytest.raises(store.StoreError, match="not a modelrace run store"):
        store.save(_race(), db)

    assert db.read_bytes() == before


def test_a_corrupt_file_is_one_line_and_never_overwritten(tmp_path: Path):
    db = tmp_path / "bad.db"
    db.write_bytes(b"this is not a database, but someone's notes\n" * 100)
    before = db.read_bytes()

    with pytest.raises(store.StoreError, match="damaged") as caught:
        store.save(_race(), db)
    with pytest.raises(store.StoreError):
        store.history(path=db)

    assert "\n" not in str(caught.value) and str(db) in str(caught.value)
    assert db.read_bytes() == before


WRITER = textwrap.dedent(
    """
    import sys
    import time
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from test_store import _race
    from providers import store
    while time.time() < float(sys.argv[3]):  # both start writing at the same moment
        time.sleep(0.002)
    for i in range(50):
        store.save(_race(f"{{sys.argv[1]}} {{i}}"), Path(sys.argv[2]))
    """
)


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path):
    db = tmp_path / "shared.db"
    script = WRITER.format(tests=str(ROOT / "tests"))
    start = str(time.time() + 3)
    procs = [
        subprocess.Popen([sys.executable, "-c", script, name, str(db), start], cwd=ROOT)
        for name in ("left", "right")
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]

    rows = store.history(limit=None, path=db)
    assert len(rows) == 100 and len({r.id for r in rows}) == 100
    assert sorted(r.prompt for r in rows) == sorted(
        f"{name} {i}" for name in ("left", "right") for i in range(50)
    )
    assert all(len(store.load(r.id, db).runs) == 2 for r in rows[:5])


def test_exports_escape_model_text_and_name_every_model(tmp_path: Path):
    db = tmp_path / "r.db"
    race = _race()
    race.runs[1].results[0] = _result("sim:<script>", ["<b>bold?</b> \x1b[2J & done"])
    race_id = store.save(race, db)
    stored = store.load(race_id, db)

    page = to_html(stored)
    markdown = to_markdown(stored)

    import xml.etree.ElementTree as ET

    ET.fromstring(page.split("\n", 1)[1])  # well-formed after the doctype
    assert "<b>bold?" not in page and "&lt;b&gt;bold?&lt;/b&gt; ␛[2J &amp; done" in page
    assert "sim:&lt;script&gt;" in page and "sim:a" in page and "sim:b" in page
    assert "\x1b" not in page + markdown
    assert "Hello world." in markdown and "<b>bold?</b> ␛[2J & done" in markdown
    assert json.loads(store.export.to_json(stored))["id"] == race_id


def test_the_old_history_file_is_imported_once_and_never_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from tui.history import PromptHistory

    secret = "sk-oldhistorysecret0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    db, legacy = tmp_path / "r.db", tmp_path / "history.jsonl"
    legacy.write_text(
        "\n".join(json.dumps({"prompt": p}) for p in ("old one", f"key {secret}", "old three"))
        + "\nnot json\n"
    )
    before = legacy.read_bytes()
    first = PromptHistory(db, legacy)
    first.append_to_file("typed before the import")  # a prompt already in the store

    first.load()
    again = PromptHistory(db, legacy)
    again.load()
    stored = first.add("new one")
    assert stored == "new one"
    first.append_to_file(stored)
    third = PromptHistory(db, legacy)
    third.load()

    expected = ["old one", "key ***", "old three", "typed before the import"]
    assert first.entries[:4] == expected and again.entries == expected
    assert third.entries == [*expected, "new one"]
    assert third.previous("") == "new one"
    assert legacy.read_bytes() == before
    assert secret.encode() not in db.read_bytes()


def test_a_broken_store_leaves_the_prompt_history_empty_not_failing(tmp_path: Path):
    from tui.history import PromptHistory

    db = tmp_path / "bad.db"
    db.write_bytes(b"garbage" * 500)
    history = PromptHistory(db)

    history.load()
    history.append_to_file("hello")

    assert history.entries == [] and db.read_bytes() == b"garbage" * 500
