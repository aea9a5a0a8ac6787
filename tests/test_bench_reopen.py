"""A stored bench reopened in the dashboard: f2, ctrl+b to the benches, Enter opens one
read-only with its charts and figures. Benches are made as a user makes them (`modelrace
bench` against the simulator on loopback), into the test's own run store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import modelrace
from screen import on_screen, until

from providers.bench.stored import StoredRepeat, StoredSweep, bench_from_json
from providers.store.benches import StoredBench, load_bench, save_bench
from tui.app import ModelRaceApp
from tui.commands.bench_report import report_text
from tui.history import PromptHistory

PROMPT = "Explain asyncio in one sentence."
FAST = "sim:fast,ttft=0.05,tokens=6,tps=300,jitter=0"
OTHER = "sim:fast,ttft=0.08,tokens=4,tps=200,jitter=0,seed=7"
SIZE = (160, 70)


pytestmark = pytest.mark.usefixtures("sim_env")


def bench(*args: str, sim: str) -> dict[str, object]:
    """Run `modelrace bench`; the stored bench's `show bN --json` document."""
    out = modelrace("bench", PROMPT, *args, sim=sim)
    assert out.returncode == 0, out.stderr
    listed = json.loads(modelrace("history", "--bench", "--json", sim=sim).stdout)
    shown = modelrace("show", listed[0]["id"], "--json", sim=sim)
    doc: dict[str, object] = json.loads(shown.stdout)
    return doc


def sweep(sim: str) -> dict[str, object]:
    return bench("-m", FAST, "-m", OTHER, "--concurrency", "1,2", "--duration", "0.4", sim=sim)


def repeat(sim: str) -> dict[str, object]:
    return bench("-m", FAST, "--repeat", "4", "--mode", "both", sim=sim)


def report_lines(bench_id: str, sim: str) -> list[str]:
    """The lines of `show bN`'s report short enough to sit on one line of the screen."""
    shown = modelrace("show", bench_id, sim=sim).stdout.splitlines()[3:]
    return [line for line in shown if line.strip() and len(line.rstrip()) < 150]


async def open_benches(pilot) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("f2")
    await until(pilot, lambda: on_screen(pilot.app, "Stored races"))
    await pilot.press("ctrl+b")
    await until(pilot, lambda: on_screen(pilot.app, "Stored benches", "samples"))


async def test_a_stored_sweep_reopens_read_only_with_its_charts_and_figures(
    sim_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    (tmp_path / "Downloads").mkdir()
    doc = sweep(sim_env)
    advice = list(doc["advice"].values())  # type: ignore[union-attr]
    lines = report_lines("b1", sim_env)
    app = ModelRaceApp([FAST], history=PromptHistory(None), mode="async")
    async with app.run_test(size=SIZE) as pilot:
        await open_benches(pilot)
        assert on_screen(app, "b1", "sweep to 2", "1 stored benches")
        await pilot.press("enter")
        await until(pilot, lambda: on_screen(app, "Bench b1: stored, read-only"))
        assert on_screen(app, "concurrency 1,2", f"prompt: {PROMPT}")
        assert on_screen(app, "output tokens/s against concurrency")
        assert on_screen(app, "p99 TTFT (s) against concurrency")
        assert on_screen(app, f"{FAST} @2", f"{OTHER} @1")  # the TTFT boxes, per level
        assert on_screen(app, *advice)
        assert len(lines) > 6 and on_screen(app, *lines)
        # Esc goes back to the bench list, ctrl+b back to the races.
        await pilot.press("escape")
        await until(pilot, lambda: on_screen(app, "Stored benches", "sweep to 2"))
        # From the list, ctrl+e exports the bench as Markdown, as `export b1 --format md`.
        await pilot.press("ctrl+e")
        md = tmp_path / "Downloads" / "modelrace-bench-b1.md"
        await until(pilot, lambda: on_screen(app, "exported bench b1 to", md.name))
        assert md.read_text() == modelrace("export", "b1", "--format", "md", sim=sim_env).stdout
        await pilot.press("ctrl+b")
        await until(pilot, lambda: on_screen(app, "Stored races", "no races stored yet"))


async def test_a_stored_repeat_reopens_with_its_ttft_boxes_and_speedup(sim_env: str) -> None:
    doc = repeat(sim_env)
    speedup = doc["speedup"]
    assert isinstance(speedup, dict)
    lines = report_lines("b1", sim_env)
    app = ModelRaceApp([FAST], history=PromptHistory(None), mode="async")
    async with app.run_test(size=SIZE) as pilot:
        await open_benches(pilot)
        await pilot.press("down", "enter")  # from the search box to the list, then open
        await until(pilot, lambda: on_screen(app, "Bench b1: stored, read-only"))
        assert on_screen(app, "repeat 4 · mode both", "8 samples")
        assert on_screen(app, "TTFT (s) per model", f"{FAST} sync", f"{FAST} async")
        assert on_screen(app, f"median {speedup['median']:.2f}x")
        assert len(lines) > 6 and on_screen(app, *lines)


def test_the_loader_gives_back_the_bench_its_document_came_from(sim_env: str) -> None:
    sweep(sim_env)
    repeat(sim_env)
    for bench_id, kind in ((1, StoredSweep), (2, StoredRepeat)):
        stored = load_bench(bench_id)
        loaded = bench_from_json(stored.document, stored.models)
        assert isinstance(loaded, kind)
        assert loaded.models == stored.models
        # Every figure of the report recomputed from the stored samples, to the character.
        assert report_text(loaded) == stored.report


async def test_a_bench_document_that_cannot_be_read_is_a_line_not_a_crash() -> None:
    save_bench(StoredBench("p", ["sim:fast"], "repeat", "async", '{"bench": "later"}', "r"))
    app = ModelRaceApp([FAST], history=PromptHistory(None), mode="async")
    async with app.run_test(size=SIZE) as pilot:
        await open_benches(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: on_screen(app, "bench b1: the stored document is no bench"))
        assert on_screen(app, "Stored benches")


async def test_ctrl_d_twice_deletes_a_stored_bench(sim_env: str) -> None:
    save_bench(StoredBench("p", ["sim:fast"], "repeat", "async", '{"bench": "repeat"}', "r"))
    app = ModelRaceApp([FAST], history=PromptHistory(None), mode="async")
    async with app.run_test(size=SIZE) as pilot:
        await open_benches(pilot)
        await pilot.press("ctrl+d")
        await until(pilot, lambda: on_screen(app, "press ctrl+d again to delete bench b1"))
        await pilot.press("ctrl+d")
        await until(pilot, lambda: on_screen(app, "deleted bench b1"))
    assert json.loads(modelrace("history", "--bench", "--json", sim=sim_env).stdout) == []
