"""The dashboard keeps every race and pipeline pass in the run store when it ends.

Read back the way a user would: `modelrace show ID --json` in a subprocess, on the store the
test points MODELRACE_DB at (tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from screen import toast_text, until

from providers.sim import expected_answer
from tui.app import ModelRaceApp
from tui.history import PromptHistory

FAST = "sim:fast,tokens=20,tps=300,ttft=0.05,jitter=0"
FAST2 = "sim:localish,tokens=15,tps=300,ttft=0.1,jitter=0"


def modelrace(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui", *args], capture_output=True, text=True, timeout=60
    )


def stored() -> list[dict[str, Any]]:
    out = modelrace("history", "--json", "--limit", "0")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def show(race_id: int) -> dict[str, Any]:
    out = modelrace("show", str(race_id), "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def db_rows() -> int:
    """Races in the store, read without the app (a file may not exist yet)."""
    path = Path(os.environ["MODELRACE_DB"])
    return len(stored()) if path.exists() else 0


async def test_a_dashboard_race_is_stored_with_its_texts(sim_env: str) -> None:
    app = ModelRaceApp([FAST, FAST2], history=PromptHistory(None), mode="both")
    async with app.run_test(notifications=True, size=(160, 48)) as pilot:
        app.prompt_box.load_text("why is the sky blue?")
        await pilot.press("enter")
        await until(pilot, lambda: app.race is not None and not app.racing)
        await until(pilot, lambda: db_rows() == 1)
    [summary] = stored()
    doc = show(summary["id"])
    assert doc["prompt"] == "why is the sky blue?"
    assert [run["mode"] for run in doc["runs"]] == ["sync", "async"]
    for run in doc["runs"]:
        got = {r["model"]: (r["ok"], r["text"]) for r in run["results"]}
        assert got == {
            spec: (True, expected_answer(spec.split(":", 1)[1], "why is the sky blue?"))
            for spec in (FAST, FAST2)
        }
    assert doc["speedup"] is not None


async def test_a_cancelled_race_is_stored_with_what_had_arrived(sim_env: str) -> None:
    slow = "sim:slow,tokens=400,tps=40,ttft=0.05"
    app = ModelRaceApp([slow], history=PromptHistory(None), mode="async")
    async with app.run_test(notifications=True, size=(120, 40)) as pilot:
        app.prompt_box.load_text("tell me a long story")
        await pilot.press("enter")
        await until(
            pilot, lambda: app.race is not None and len(app.race.runs[0].results[0].text) > 20
        )
        await pilot.press("escape")
        await until(pilot, lambda: not app.racing)
        await until(pilot, lambda: db_rows() == 1)
    [summary] = stored()
    assert summary["interrupted"] is True
    [run] = show(summary["id"])["runs"]
    [result] = run["results"]
    full = expected_answer("slow,tokens=400,tps=40,ttft=0.05", "tell me a long story")
    assert result["ok"] is False and result["error_kind"] == "cancelled"
    assert result["text"] and full.startswith(result["text"]) and result["text"] != full


async def test_a_pipeline_pass_in_the_dashboard_is_stored(
    sim_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mini.toml").write_text(
        'name = "mini"\n[steps.a]\nwait = 0.1\noutput = "alpha"\n'
        f'[steps.draft]\nmodel = "{FAST}"\nafter = ["a"]\nprompt = "{{steps.a}} {{input}}"\n'
    )
    monkeypatch.chdir(tmp_path)
    app = ModelRaceApp([FAST], history=PromptHistory(None), mode="async")
    async with app.run_test(notifications=True, size=(160, 48)) as pilot:
        app.prompt_box.load_text("question")
        await app.open_pipeline("mini.toml")
        await until(pilot, lambda: app.race is not None and not app.racing)
        await until(pilot, lambda: db_rows() == 1)
    [summary] = stored()
    assert summary["kind"] == "pipeline"
    [run] = show(summary["id"])["runs"]
    texts = {r["model"]: r["text"] for r in run["results"]}
    assert expected_answer(FAST.split(":", 1)[1], "alpha question") in texts.values()


async def test_a_store_that_fails_is_a_notice_and_the_race_stays_shown(
    sim_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file the store cannot open, with markup in its name: the notice shows it literally.
    bad = tmp_path / "[bold]broken[red].db"
    bad.write_bytes(b"this is not an sqlite file at all, not even close" * 100)
    before = bad.read_bytes()
    monkeypatch.setenv("MODELRACE_DB", str(bad))
    app = ModelRaceApp([FAST], history=PromptHistory(None), mode="async")
    async with app.run_test(notifications=True, size=(200, 48)) as pilot:
        app.prompt_box.load_text("hello")
        await pilot.press("enter")
        await until(pilot, lambda: app.race is not None and not app.racing)
        await until(pilot, lambda: "Not saved" in toast_text(app))
        toast = toast_text(app)
        assert "[bold]broken[red].db" in toast and "damaged" in toast
        result = app.race.runs[0].results[0]
        assert result.text == expected_answer(FAST.split(":", 1)[1], "hello")
    assert bad.read_bytes() == before
