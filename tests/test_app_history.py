"""The dashboard's history screen, the sides of a `both` race, and what it remembers between
launches, driven through Textual's pilot. Races are stored through the store's own API (real
races over the simulator on loopback, or recorded runs when the two sides must differ)."""

from __future__ import annotations

from pathlib import Path

import pytest
from screen import on_screen, screen_lines, until

from providers import Request, make_adapter
from providers.events import Finished, Started, TextDelta
from providers.race import Race, parse_mode
from providers.record import Result, Run, speedup
from providers.sim import expected_answer
from providers.store import StoredRace, from_race, history, save
from tui.app import ModelRaceApp
from tui.history import PromptHistory
from tui.prefs import dashboard_app

FAST = "sim:fast,tokens=30,tps=300,ttft=0.05"
FAST2 = "sim:localish,tokens=20,tps=300,ttft=0.1,jitter=0"
SIZE = (120, 36)


pytestmark = pytest.mark.usefixtures("sim_env")


async def race_and_store(prompt: str, specs: list[str], mode: str = "both") -> tuple[int, Race]:
    race = Race([make_adapter(s) for s in specs], Request(prompt), parse_mode(mode))
    await race.run()
    return save(from_race(race)), race


def words(text: str, n: int = 4) -> str:
    return " ".join(text.split()[:n])


def make_app(specs: list[str]) -> ModelRaceApp:
    return ModelRaceApp(specs, history=PromptHistory(None), mode="async")


def recorded(spec: str, text: str, start: float, pieces: int = 6) -> Result:
    result = Result(spec)
    result.apply(Started(start))
    t = start + 0.1
    for i in range(pieces):
        result.apply(TextDelta(t, text.split("|")[i % len(text.split("|"))]))
        t += 0.05
    result.apply(Finished(t))
    return result


def two_sided_race() -> StoredRace:
    """A `both` race whose sync and async answers differ, so the screen says which it shows."""
    sync = [recorded("sim:fast", "Sync side words |alpha |", 0.0)]
    sync.append(recorded("sim:slow", "Sync slow words |gamma |", sync[0].end or 0))
    async_ = [recorded("sim:fast", "Async side words |beta |", 0.0)]
    async_.append(recorded("sim:slow", "Async slow words |delta |", 0.0))
    runs = [
        Run("sync", sync, False, t0=0.0, t_end=sync[-1].end),
        Run("async", async_, True, t0=0.0, t_end=max(r.end or 0 for r in async_)),
    ]
    return StoredRace("which side is this?", runs, "both")


async def open_history(pilot) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("f2")
    await until(pilot, lambda: on_screen(pilot.app, "Stored races"))


def table_rows(app: ModelRaceApp) -> list[str]:
    """The rows of the history list on screen (each starts with its id)."""
    lines = screen_lines(app)
    head = next(i for i, line in enumerate(lines) if " id " in line and "speedup" in line)
    rows = []
    for line in lines[head + 1 :]:
        cells = line.strip(" │╭╮╰╯").split()
        if not cells or not cells[0].isdigit():
            break
        rows.append(line)
    return rows


def row_id(row: str) -> int:
    return int(row.strip(" │").split()[0])


async def test_history_lists_stored_races_newest_first_and_search_filters_them() -> None:
    first, race = await race_and_store("why is the sky blue?", [FAST, FAST2])
    second, _ = await race_and_store("tell me about tea", [FAST], mode="async")
    app = make_app([FAST])
    async with app.run_test(notifications=True, size=SIZE) as pilot:
        await open_history(pilot)
        await until(pilot, lambda: len(table_rows(app)) == 2)
        rows = table_rows(app)
        assert [row_id(row) for row in rows] == [second, first]
        assert "tell me about tea" in rows[0] and "async" in rows[0]
        ratio = speedup(race.runs)
        assert ratio is not None
        both = " ".join(rows[1].split())
        assert "why is the sky blue?" in both and "sim:fast" in both
        assert f"{ratio:.2f}x" in both and "sync" in both and "async" in both
        assert on_screen(app, "2 stored races in")
        await pilot.press(*"tea")
        # The table is rebuilt for the search; its columns settle on a later frame.
        await until(
            pilot,
            lambda: len(table_rows(app)) == 1 and "tell me about tea" in table_rows(app)[0],
        )
        assert not on_screen(app, "why is the sky blue?")
        await pilot.press(*"xyz")
        await until(pilot, lambda: on_screen(app, "no stored race matches 'teaxyz'"))
        assert table_rows(app) == []


async def test_enter_reopens_a_stored_race_as_it_looked_and_ctrl_r_reruns_it() -> None:
    prompt = "why is the sky blue?"
    race_id, race = await race_and_store(prompt, [FAST, FAST2])
    await race_and_store("an older one", [FAST], mode="async")  # listed first: newest
    ratio = speedup(race.runs)
    assert ratio is not None
    app = make_app(["sim:slow"])
    # Tall enough for four runs even when a loaded machine stalls the loop and each run gains
    # a lag-trace row (the timeline would turn compact and drop the "wall" headers).
    async with app.run_test(notifications=True, size=(120, 56)) as pilot:
        await open_history(pilot)
        await until(pilot, lambda: len(table_rows(app)) == 2)
        await pilot.press("down", "down", "enter")
        await until(pilot, lambda: not on_screen(app, "Stored races"))
        await until(pilot, lambda: on_screen(app, f"speedup {ratio:.2f}×"))
        for spec in (FAST, FAST2):
            answer = expected_answer(spec.split(":", 1)[1], prompt)
            await until(pilot, lambda a=answer: on_screen(app, words(a)))
        text = "\n".join(screen_lines(app))
        assert "╭─ sim:fast,tokens=30" in text and "╭─ sim:localish" in text
        assert "╭─ sim:slow" not in text
        assert "#1 sync" in text and "#2 async" in text and "speedup sync ÷ async" in text
        assert f"stored race {race_id}, read-only" in text
        sync_wall, async_wall = (run.wall_s for run in race.runs)
        assert f"sync {sync_wall:.2f} s" in text and f"async {async_wall:.2f} s" in text
        # The timeline draws its bars: one row per model per side, each with its duration.
        bars = [line for line in screen_lines(app) if "█" in line and "sim:" in line]
        assert len(bars) == 4
        await pilot.press("ctrl+r")
        await until(pilot, lambda: on_screen(app, "#4 async wall"), timeout=20)
        assert not on_screen(app, "read-only")
        assert "╭─ sim:fast,tokens=30" in "\n".join(screen_lines(app))
        assert on_screen(app, "─ #4 async ─")
        # The rerun sent the stored prompt: it is the newest in the prompt history.
        await pilot.press("up")
        await until(pilot, lambda: app.prompt_box.text == prompt)


async def test_the_panels_switch_between_the_sync_and_the_async_answers() -> None:
    save(two_sided_race())
    app = make_app([FAST])
    async with app.run_test(notifications=True, size=SIZE) as pilot:
        await open_history(pilot)
        await until(pilot, lambda: len(table_rows(app)) == 1)
        await pilot.press("enter")
        await until(pilot, lambda: on_screen(app, "Async side words beta", "Async slow words"))
        assert on_screen(app, "─ #2 async ─")
        assert not on_screen(app, "Sync side words")
        await pilot.press("f3")
        await until(pilot, lambda: on_screen(app, "Sync side words alpha", "Sync slow words"))
        assert on_screen(app, "─ #1 sync ─")
        assert not on_screen(app, "Async side words")
        await pilot.press("f3")
        await until(pilot, lambda: on_screen(app, "Async side words beta"))


async def test_a_race_with_one_side_says_there_is_nothing_to_switch() -> None:
    app = make_app([FAST])
    async with app.run_test(notifications=True, size=SIZE) as pilot:
        app.prompt_box.load_text("one side")
        await pilot.press("enter")
        await until(pilot, lambda: on_screen(app, "#1 async wall"))
        await pilot.press("f3")
        await until(pilot, lambda: on_screen(app, "Only a both race has two sides"))


async def test_a_live_both_race_can_show_its_sync_side() -> None:
    app = ModelRaceApp([FAST], history=PromptHistory(None), mode="both")
    async with app.run_test(notifications=True, size=SIZE) as pilot:
        app.prompt_box.load_text("two sides")
        await pilot.press("enter")
        await until(pilot, lambda: on_screen(app, "#2 async wall"), timeout=20)
        await until(pilot, lambda: on_screen(app, "─ #2 async ─"))
        await pilot.press("f3")
        await until(pilot, lambda: on_screen(app, "─ #1 sync ─"))
        await pilot.pause(0.5)  # the poll does not take the panels back to the newest side
        assert on_screen(app, "─ #1 sync ─")


async def test_delete_asks_once_more_then_removes_the_race_from_the_list() -> None:
    keep, _ = await race_and_store("keep me", [FAST], mode="async")
    gone, _ = await race_and_store("delete me", [FAST], mode="async")
    app = make_app([FAST])
    async with app.run_test(notifications=True, size=SIZE) as pilot:
        await open_history(pilot)
        await until(pilot, lambda: len(table_rows(app)) == 2)
        await pilot.press("ctrl+d")
        await until(pilot, lambda: on_screen(app, f"press ctrl+d again to delete race {gone}"))
        assert len(table_rows(app)) == 2
        await pilot.press("ctrl+d")
        await until(pilot, lambda: on_screen(app, f"deleted race {gone}"))
        rows = table_rows(app)
        assert len(rows) == 1 and "keep me" in rows[0] and not on_screen(app, "delete me")
    assert [h.id for h in history()] == [keep]


async def test_export_writes_markdown_and_html_and_says_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    (tmp_path / "Downloads").mkdir()
    race_id, _ = await race_and_store("export me [bold]", [FAST, FAST2])
    app = make_app([FAST])
    async with app.run_test(notifications=True, size=SIZE) as pilot:
        await open_history(pilot)
        await until(pilot, lambda: len(table_rows(app)) == 1)
        await pilot.press("ctrl+e")
        md = tmp_path / "Downloads" / f"modelrace-race-{race_id}.md"
        await until(pilot, lambda: on_screen(app, f"exported race {race_id} to", md.name))
        assert on_screen(app, str(md.parent))
        await pilot.press("ctrl+w")
        page = md.with_suffix(".html")
        await until(pilot, lambda: on_screen(app, page.name))
        await pilot.press("ctrl+e")
        again = md.with_name(f"modelrace-race-{race_id}-2.md")
        await until(pilot, lambda: on_screen(app, again.name))
    text = md.read_text()
    assert "export me [bold]" in text
    for spec in (FAST, FAST2):
        assert expected_answer(spec.split(":", 1)[1], "export me [bold]") in text
    assert "<html" in page.read_text() and again.read_text() == text


async def test_models_mode_and_settings_survive_a_restart() -> None:
    first = dashboard_app([FAST, FAST2], app_config(), given=True)
    async with first.run_test(notifications=True, size=SIZE) as pilot:
        assert on_screen(first, "mode both")
        await pilot.press("ctrl+t")  # both → threads
        await until(pilot, lambda: on_screen(first, "mode threads"))
        await pilot.press("ctrl+s")
        await until(pilot, lambda: on_screen(first, "Temperature"))
        await pilot.press(*"be brief", "tab", *"0.5", "tab", *"99", "ctrl+s")
        await until(pilot, lambda: on_screen(first, "temperature 0.5", "max 99 tokens"))
        await pilot.press("ctrl+l")
        await until(pilot, lambda: on_screen(first, "Space toggles"))
        await pilot.press("space")  # FAST off
        await pilot.press("tab", *"sim:slow", "enter")
        await until(pilot, lambda: on_screen(first, "Added sim:slow"))
        await pilot.press("escape")
        await until(pilot, lambda: not on_screen(first, "Space toggles"))
        await first.workers.wait_for_complete()
    # A new launch without -m: the last session's models, mode and settings.
    second = dashboard_app(["sim:hosted"], app_config(), given=False)
    async with second.run_test(notifications=True, size=SIZE) as pilot:
        await pilot.pause(0.3)
        text = "\n".join(screen_lines(second))
        assert "╭─ sim:localish" in text and "╭─ sim:slow" in text
        assert "╭─ sim:fast" not in text and "╭─ sim:hosted" not in text
        assert on_screen(second, "mode threads", "temperature 0.5", "max 99 tokens")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: on_screen(second, "Temperature"))
        assert on_screen(second, "be brief")
        await pilot.press("escape")
        await pilot.press("ctrl+l")
        await until(pilot, lambda: on_screen(second, "Space toggles"))
        assert on_screen(second, "sim:fast,tokens=30")  # still listed, switched off
    # -m wins over the remembered models; mode and settings stay.
    third = dashboard_app(["sim:hosted"], app_config(), given=True)
    async with third.run_test(notifications=True, size=SIZE) as pilot:
        await pilot.pause(0.3)
        text = "\n".join(screen_lines(third))
        assert "╭─ sim:hosted" in text and "╭─ sim:localish" not in text
        assert on_screen(third, "mode threads", "temperature 0.5")


def app_config():  # type: ignore[no-untyped-def]
    from providers.config import Config

    return Config()


async def test_the_palette_opens_the_history_and_esc_closes_it() -> None:
    app = make_app([FAST])
    async with app.run_test(notifications=True, size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"History")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(pilot, lambda: on_screen(app, "Stored races", "no races stored yet in"))
        await pilot.press("escape")
        await until(pilot, lambda: not on_screen(app, "Stored races"))
