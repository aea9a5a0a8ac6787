"""A pipeline opened in the dashboard: one panel and one timeline row per step."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from screen import on_screen, screen_lines

from providers.record import State
from providers.sim import expected_answer
from tui.app import ModelRaceApp
from tui.history import PromptHistory

MODEL = "fast,tokens=10,tps=200,ttft=0.05,jitter=0"
PIPELINE = f"""
name = "mini"
[steps.a]
wait = 0.3
output = "alpha"
[steps.b]
wait = 0.6
output = "beta"
[steps.draft]
model = "sim:{MODEL}"
after = ["a", "b"]
prompt = "{{steps.a}} {{steps.b}} {{input}}"
"""


async def test_a_pipeline_runs_in_the_dashboard(sim_env: str, tmp_path: Path, monkeypatch):
    (tmp_path / "mini.toml").write_text(PIPELINE)
    monkeypatch.chdir(tmp_path)
    app = ModelRaceApp([f"sim:{MODEL}"], history=PromptHistory(None), mode="async")
    async with app.run_test(notifications=True, size=(160, 48)) as pilot:
        assert [p.name for p in app.pipeline_files()] == ["mini.toml"]
        app.prompt_box.load_text("question")
        await app.open_pipeline("mini.toml")
        deadline = time.monotonic() + 10
        while app.race is None or app.racing or not app.runs:
            assert time.monotonic() < deadline
            await pilot.pause(0.05)
        await pilot.pause(0.3)

        assert [p.spec for p in app.panels] == [
            "a · wait 0.3s",
            "b · wait 0.6s",
            f"draft · sim:{MODEL}",
        ]
        [run] = app.runs
        a, b, draft = run.results
        assert all(r.state is State.DONE for r in run.results)
        assert draft.text == expected_answer(MODEL, "alpha beta question")
        assert app.panels[2].result is draft
        assert max(a.start, b.start) < min(a.end, b.end)  # independent steps overlap
        assert draft.start >= b.end  # the dependent step waited for both
        assert run.critical_path == ["b", "draft"]
        lines = screen_lines(app)
        assert any("pipeline mini" in line and "ideal (critical path)" in line for line in lines)
        assert any("★ b " in line for line in lines) and any("★ draft" in line for line in lines)
        assert not any("★ a " in line for line in lines)

        # The next prompt races the models again, with their panels back.
        app.prompt_box.load_text("hello")
        await pilot.press("enter")
        deadline = time.monotonic() + 10
        while app.racing or len(app.runs) < 2:
            assert time.monotonic() < deadline
            await pilot.pause(0.05)
        assert [p.spec for p in app.panels] == [f"sim:{MODEL}"]


async def test_a_bad_pipeline_file_is_a_notification(sim_env: str, tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[steps.x]\nwait = 1\nafter = ["ghost"]\n')
    app = ModelRaceApp([f"sim:{MODEL}"], history=PromptHistory(None), mode="async")
    async with app.run_test(notifications=True, size=(120, 40)) as pilot:
        await app.open_pipeline(str(bad))
        deadline = time.monotonic() + 5
        while not on_screen(app, "ghost"):
            assert time.monotonic() < deadline, "the error is shown"
            await pilot.pause(0.05)
        assert app.race is None and [p.spec for p in app.panels] == [f"sim:{MODEL}"]


@pytest.mark.parametrize("way", ["ctrl+o", "palette"])
async def test_a_pipeline_opens_from_its_key_and_from_the_palette(
    sim_env: str, tmp_path: Path, monkeypatch, way: str
):
    (tmp_path / "mini.toml").write_text(PIPELINE)
    monkeypatch.chdir(tmp_path)
    app = ModelRaceApp([f"sim:{MODEL}"], history=PromptHistory(None), mode="async")
    async with app.run_test(notifications=True, size=(160, 48)) as pilot:
        if way == "ctrl+o":
            await pilot.press("ctrl+o")
            await pilot.pause(0.3)
            assert app.screen.query_one("#path").value == "mini.toml"
            await pilot.press("enter")
        else:
            await pilot.press("ctrl+p")
            await pilot.pause(0.2)
            await pilot.press(*"Pipeline: mini")
            await pilot.pause(0.5)
            await pilot.press("enter")
        deadline = time.monotonic() + 10
        while not app.runs or app.racing:
            assert time.monotonic() < deadline
            await pilot.pause(0.05)
        assert [r.step for r in app.runs[0].results] == ["a", "b", "draft"]
