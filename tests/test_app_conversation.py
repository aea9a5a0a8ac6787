"""Conversations in the dashboard: the next prompt continues the race on screen.

Driven through Textual's pilot against the real simulator; checks read the screen.
"""

from __future__ import annotations

import json

import pytest
from cli_helpers import modelrace
from screen import on_screen, screen_lines, until

from providers.sim import SimServer, expected_answer
from tui.app import ModelRaceApp
from tui.history import PromptHistory
from tui.screens.models import ModelPickerScreen
from tui.widgets.panel import AnswerPanel

PLAIN = "sim:fast,tokens=12,tps=400,ttft=0.02,jitter=0"
ECHO = "sim:fast,echo=1,tps=2000,ttft=0.02,jitter=0"


@pytest.fixture(scope="module", autouse=True)
def sim(module_sim: SimServer) -> str:
    assert module_sim.url is not None
    return module_sim.url


async def ask(pilot, app: ModelRaceApp, prompt: str) -> None:  # type: ignore[no-untyped-def]
    before = app.race
    app.prompt_box.load_text(prompt)
    await pilot.press("enter")
    await until(pilot, lambda: app.race is not before, timeout=3)
    await until(pilot, lambda: not app.racing)
    await until(
        pilot,
        lambda: all(
            p.result is not None and (not p.result.chunks or p.view.rendered_markdown)
            for p in app.panels
        ),
    )
    await pilot.pause(0.2)


def panel_lines(app: ModelRaceApp, panel: AnswerPanel) -> list[str]:
    region = panel.view.region
    lines = screen_lines(app)
    return [lines[y][region.x : region.right].rstrip() for y in range(region.y, region.bottom)]


def title_line(app: ModelRaceApp, panel: AnswerPanel) -> str:
    region = panel.region
    return screen_lines(app)[region.y][region.x : region.right]


def sent_to(panel: AnswerPanel) -> list[list[str]]:
    """The messages the echo model received, as its answer on screen reports them."""
    assert panel.result is not None
    return json.loads(panel.result.text)["messages"]


async def test_the_next_prompt_continues_and_the_panel_shows_the_whole_conversation():
    app = ModelRaceApp([PLAIN, ECHO], history=PromptHistory(None), mode="async")
    async with app.run_test(notifications=True, size=(160, 48)) as pilot:
        await ask(pilot, app, "Name a colour.")
        plain, echo = app.panels
        first_plain = expected_answer(PLAIN.split(":", 1)[1], "Name a colour.")
        assert "turn" not in title_line(app, plain)
        first_echo = echo.result.text if echo.result else ""

        await ask(pilot, app, "Why that one?")

        assert "turn 2" in title_line(app, plain) and "turn 2" in title_line(app, echo)
        # The echo model was sent its own first answer, not the other model's.
        assert sent_to(echo) == [
            ["user", "Name a colour."],
            ["assistant", first_echo],
            ["user", "Why that one?"],
        ]
        # Scrolled to the top, the panel shows turn 1 and its answer above this one.
        plain.view.focus()
        await pilot.press("home")
        await pilot.pause(0.1)
        shown = " ".join(" ".join(panel_lines(app, plain)).split())
        assert "▸ turn 1 · you: Name a colour." in shown
        assert " ".join(first_plain.split()[:5]) in shown
        assert "▸ turn 2 · you: Why that one?" in shown
        top = plain.view.row_strip(1, plain.view.size.width, plain.view.rich_style)
        assert top.text.strip() and all(seg.style and seg.style.dim for seg in top)
        assert on_screen(app, "next: turn 3 (f5 new chat)")
        assert any("turn 2" in line for line in screen_lines(app) if "#2 async" in line)


async def test_the_new_chat_key_starts_again_at_turn_one():
    app = ModelRaceApp([ECHO], history=PromptHistory(None), mode="async")
    async with app.run_test(notifications=True, size=(120, 40)) as pilot:
        await ask(pilot, app, "One?")
        await ask(pilot, app, "Two?")
        (panel,) = app.panels
        assert "turn 2" in title_line(app, panel)

        app.prompt_box.focus()
        await pilot.press("f5")
        await until(pilot, lambda: on_screen(app, "New conversation"), 3)
        assert "turn" not in title_line(app, panel)

        await ask(pilot, app, "Three?")

        assert sent_to(panel) == [["user", "Three?"]]
        assert "turn" not in title_line(app, panel)
        assert not on_screen(app, "▸ turn 1")


async def test_a_model_added_mid_conversation_starts_fresh_and_says_so():
    app = ModelRaceApp([ECHO], history=PromptHistory(None), mode="async")
    async with app.run_test(notifications=True, size=(160, 48)) as pilot:
        await ask(pilot, app, "One?")
        await pilot.press("ctrl+l")
        assert isinstance(app.screen, ModelPickerScreen)
        box = app.screen.query_one("#add")
        box.value = "sim:slow,echo=1,ttft=0.02,tps=2000"
        box.focus()
        await pilot.press("enter")
        await until(pilot, lambda: box.value == "", 3)
        await pilot.press("escape")
        await pilot.pause(0.1)

        await ask(pilot, app, "Two?")

        old, new = app.panels
        assert len(sent_to(old)) == 3
        assert sent_to(new) == [["user", "Two?"]]
        assert on_screen(app, "joins at turn 2")
        new.view.focus()
        await pilot.press("home")
        await pilot.pause(0.1)
        assert "joined at turn 2: no earlier turns sent" in " ".join(panel_lines(app, new))


async def test_rerun_asks_the_same_turn_again():
    app = ModelRaceApp([ECHO], history=PromptHistory(None), mode="async")
    async with app.run_test(notifications=True, size=(120, 40)) as pilot:
        await ask(pilot, app, "One?")
        await ask(pilot, app, "Two?")
        (panel,) = app.panels
        before = app.race
        await pilot.press("ctrl+r")
        await until(pilot, lambda: app.race is not before and not app.racing)
        await pilot.pause(0.2)

        # Asked again after turn 1, not after itself: no "Two?" answered before "Two?".
        assert [m for m in sent_to(panel) if m[0] == "user"] == [["user", "One?"], ["user", "Two?"]]
        assert "turn 2" in title_line(app, panel)


async def test_a_reopened_stored_conversation_is_continued(sim: str):
    assert modelrace("run", "One?", "-m", ECHO, "--mode", "async", sim=sim).returncode == 0
    ran = modelrace("run", "--continue", "1", "Two?", "--mode", "async", sim=sim)
    assert ran.returncode == 0, ran.stderr
    app = ModelRaceApp(["sim:slow"], history=PromptHistory(None), mode="async")
    async with app.run_test(notifications=True, size=(160, 48)) as pilot:
        await pilot.press("f2")
        await until(pilot, lambda: on_screen(app, "Stored races"))
        await pilot.press("enter")  # the newest: turn 2
        await until(pilot, lambda: on_screen(app, "stored race 2"))
        (panel,) = app.panels
        await until(pilot, lambda: "turn 2" in title_line(app, panel))
        await until(pilot, lambda: on_screen(app, "next: turn 3"))

        await ask(pilot, app, "Three?")

        assert [m[1] for m in sent_to(panel) if m[0] == "user"] == ["One?", "Two?", "Three?"]
        assert "turn 3" in title_line(app, panel)


async def test_dashboard_turns_are_stored_as_a_conversation(sim: str):
    app = ModelRaceApp([ECHO], history=PromptHistory(None), mode="async")
    async with app.run_test(notifications=True, size=(120, 40)) as pilot:
        await ask(pilot, app, "One?")
        await until(pilot, lambda: app.stored_id == 1)
        await ask(pilot, app, "Two?")
        await until(pilot, lambda: app.stored_id == 2)

    shown = modelrace("show", "2", "--json", sim=sim)
    doc = json.loads(shown.stdout)
    assert (doc["prompt"], doc["turn"], doc["parent_id"]) == ("Two?", 2, 1)


async def test_an_earlier_answer_full_of_markup_is_shown_as_text():
    app = ModelRaceApp(["sim:markup,ttft=0.01"], history=PromptHistory(None), mode="async")
    async with app.run_test(notifications=True, size=(160, 60)) as pilot:
        await ask(pilot, app, "[bold]One?[/bold]")
        await ask(pilot, app, "Two?")
        (panel,) = app.panels
        panel.view.focus()
        await pilot.press("home")
        await pilot.pause(0.1)
        shown = "\n".join(panel_lines(app, panel))
        assert "▸ turn 1 · you: [bold]One?[/bold]" in shown
        assert "[bold red]x[/]" in shown and "␛[31mred?␛[0m" in shown


async def test_a_long_earlier_answer_is_shown_above_the_next_turn():
    """Past 20,000 characters an earlier answer is wrapped off the loop: it still appears,
    whole, above the next turn (its start at the top, the new answer below its end)."""
    long = "sim:fast,tokens=6000,tps=60000,ttft=0.01,jitter=0"
    app = ModelRaceApp([long], history=PromptHistory(None), mode="async")
    async with app.run_test(size=(160, 40)) as pilot:
        await ask(pilot, app, "One?")
        (panel,) = app.panels
        assert panel.result is not None
        first = panel.result.text
        assert len(first) > 20_000
        await ask(pilot, app, "Two?")
        panel.view.focus()
        await pilot.press("home")
        start = " ".join(first.split()[:4])

        def shown() -> str:
            return "\n".join(panel_lines(app, panel))

        await until(pilot, lambda: start in shown(), timeout=10)
        assert "▸ turn 1 · you: One?" in shown()
        await pilot.press("end")
        await until(pilot, lambda: "▸ turn 1" not in shown())
