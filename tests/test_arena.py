"""The blind arena and voting in the dashboard, through the simulator and the run store.

What is checked is what a user sees (the whole screen, toasts included) and what the store
keeps (load_votes on the MODELRACE_DB tests/conftest.py points at).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from screen import on_screen, screen_text, toast_text, until

from providers.arena.blind import TIE, Shuffler, ballot, describe, letter
from providers.arena.votes import VoteRefused, load_votes
from providers.sim import expected_answer
from tui.app import ModelRaceApp
from tui.history import PromptHistory
from tui.widgets.panel import AnswerPanel

# Short specs, so a title with its letter fits a panel whole.
FAST = "sim:fast,tokens=12,tps=400"
LOCAL = "sim:localish,tokens=10,tps=400"
SLOWISH = "sim:slow,tokens=14,tps=400,ttft=0.1"
THREE = [FAST, LOCAL, SLOWISH]
LONG = "sim:slow,tokens=300,tps=40,ttft=0.05"
# What may never be on screen while a race is blind: any spec, and every speed figure.
SECRETS = ("sim:", "localish", "TTFT", "tok/s", "speedup", "wall")
TITLE = re.compile(r"[╭╔]═?─?\s*([A-Z]) · (sim:\S+?)(?: · turn \d+)?\s*[─═]")


def seen(app: ModelRaceApp) -> str:
    """The screen and its toasts, spacing and wrapping removed."""
    return "".join((screen_text(app) + toast_text(app)).split())


def titles(app: ModelRaceApp) -> dict[str, str]:
    """Letter → spec, as the revealed panel titles show them."""
    found: dict[str, str] = {}
    for line in screen_text(app).splitlines():
        for match in TITLE.finditer(line):
            found[match.group(1)] = match.group(2)
    return found


async def race(pilot: Any, app: ModelRaceApp, prompt: str) -> None:
    """Send a prompt from the prompt box; wait until the race ended and was saved."""
    app.prompt_box.focus()
    app.prompt_box.load_text(prompt)
    await pilot.press("enter")
    await until(pilot, lambda: app.race is not None and not app.racing)
    await until(pilot, lambda: app.stored_id is not None)
    # The answers rendered: what is on screen is what the race ended with.
    await until(pilot, lambda: all(rendered(p) for p in app.panels if p.display))


def rendered(panel: AnswerPanel) -> bool:
    """Its answer is drawn as it ended (Markdown), or it has none (a failure before text)."""
    result = panel.result
    return result is not None and (panel.view.rendered_markdown or not result.chunks)


async def test_a_blind_race_names_no_model_until_the_vote_then_shows_them(sim_env: str) -> None:
    app = ModelRaceApp(THREE, history=PromptHistory(None), arena=True, arena_seed=1)
    async with app.run_test(notifications=True, size=(180, 48)) as pilot:
        await race(pilot, app, "why is the sky blue?")
        text = seen(app)
        for secret in SECRETS:
            assert secret not in text, secret
        for letter in "ABC":
            assert re.search(rf"[╭╔][─═]\s*{letter}\s*[─═]", screen_text(app)), letter
        assert "D" not in titles(app)
        assert on_screen(app, "blind: vote", "arena (async)")
        # Screens that would name the models are refused while the race is blind.
        await pilot.press("f2")
        await until(pilot, lambda: "Vote first" in toast_text(app))
        assert "sim:" not in seen(app)

        # Focus left the (empty) prompt when the race ended: 2 votes for panel B.
        await pilot.press("2")
        await until(pilot, lambda: len(load_votes()) == 1)
        await until(pilot, lambda: len(titles(app)) == 3)
        shown = titles(app)
        await until(pilot, lambda: "Vote kept" in toast_text(app))
        assert on_screen(app, f"(blind): B · {shown['B']} wins", "TTFT")
        assert app.prompt_box.text == ""

    [vote] = load_votes()
    assert (vote.verdict, vote.blind, vote.winner) == ("win", True, shown["B"])
    assert vote.race_id == app.stored_id
    assert set(vote.models) == set(shown.values()) and len(vote.models) == 3
    # The models in the order the panels showed them: A first.
    assert vote.models == tuple(shown[letter] for letter in "ABC")


async def test_a_follow_up_stays_blind_until_the_vote_and_then_a_new_conversation_starts(
    sim_env: str,
) -> None:
    app = ModelRaceApp(THREE, history=PromptHistory(None), arena=True, arena_seed=0)
    orders = []
    async with app.run_test(notifications=True, size=(180, 48)) as pilot:
        await race(pilot, app, "why is the sky blue?")
        first_answers = [panel.result.text for panel in app.panels if panel.result]
        # A follow-up before any vote: still blind, and each letter keeps its model.
        await race(pilot, app, "and at dusk?")
        assert "sim:" not in seen(app)
        # Not even ctrl+d may name them while the turn is sealed.
        await pilot.press("ctrl+d")
        await until(pilot, lambda: "the diff would name" in toast_text(app))
        assert not app.screen.is_modal and "sim:" not in seen(app)
        await pilot.press("equals_sign")
        await until(pilot, lambda: len(titles(app)) == 3)
        orders.append(tuple(titles(app)[letter] for letter in "ABC"))
        assert first_answers == [
            expected_answer(spec.split(":", 1)[1], "why is the sky blue?") for spec in orders[0]
        ]
        # The names are known now, so the next prompt is a new blind conversation (turn 1).
        await until(pilot, lambda: "Vote kept" in toast_text(app))
        app.clear_notifications()
        await race(pilot, app, "and at night?")
        assert "new blind conversation" in toast_text(app)
        assert "sim:" not in seen(app) and "· turn 2" not in screen_text(app)
        await pilot.press("0")
        await until(pilot, lambda: len(titles(app)) == 3)
        orders.append(tuple(titles(app)[letter] for letter in "ABC"))
    votes = load_votes()
    assert [(v.verdict, v.winner, v.turn) for v in votes] == [
        ("tie", None, 2),
        ("all_bad", None, 1),
    ]
    assert all(v.blind for v in votes)
    assert [v.models for v in votes] == orders


async def test_votes_are_refused_with_a_notice_when_they_cannot_be_kept(sim_env: str) -> None:
    app = ModelRaceApp([LONG, FAST], history=PromptHistory(None), mode="async")
    async with app.run_test(notifications=True, size=(160, 48)) as pilot:
        # In the prompt a digit is typed, not a vote.
        await pilot.press("1")
        assert app.prompt_box.text == "1"
        # No race yet.
        await pilot.press("alt+1")
        await until(pilot, lambda: "No race to vote on yet" in toast_text(app))

        app.prompt_box.load_text("tell me a long story")
        await pilot.press("enter")
        await until(pilot, lambda: app.racing and bool(app.race and app.race.runs[0].t0))
        await pilot.press("tab")
        await pilot.press("1")
        await until(pilot, lambda: "still running" in toast_text(app))
        await until(pilot, lambda: not app.racing and app.stored_id is not None, timeout=30)

        # A panel that is not there.
        await pilot.press("alt+5")
        await until(pilot, lambda: "no panel 5" in toast_text(app))
        assert load_votes() == []

        # A normal race: the names were on screen, so the vote is not blind.
        await pilot.press("alt+2")
        await until(pilot, lambda: len(load_votes()) == 1)
        await until(pilot, lambda: "(not blind)" in toast_text(app))
        await pilot.press("alt+1")
        await until(pilot, lambda: "already has a vote" in toast_text(app))
        assert "Traceback" not in screen_text(app)
    [vote] = load_votes()
    assert (vote.verdict, vote.winner, vote.blind) == ("win", FAST, False)
    assert vote.models == (LONG, FAST)


async def test_a_race_that_was_not_saved_cannot_be_voted_on(
    sim_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "broken.db"
    bad.write_bytes(b"not an sqlite file" * 200)
    monkeypatch.setenv("MODELRACE_DB", str(bad))
    app = ModelRaceApp([FAST, LOCAL], history=PromptHistory(None), arena=True, arena_seed=2)
    async with app.run_test(notifications=True, size=(160, 48)) as pilot:
        app.prompt_box.load_text("hello")
        await pilot.press("enter")
        await until(pilot, lambda: "Not saved" in toast_text(app))
        await pilot.press("1")
        await until(pilot, lambda: "not in the run store" in toast_text(app))
        # Still blind: a vote that could not be kept shows nothing.
        assert "sim:" not in seen(app)


async def test_copy_in_the_arena_names_the_letter_and_leaving_the_arena_shows_names(
    sim_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    app = ModelRaceApp([FAST, LOCAL], history=PromptHistory(None), arena=True, arena_seed=4)
    async with app.run_test(notifications=True, size=(160, 48)) as pilot:
        await race(pilot, app, "why is the sky blue?")
        await pilot.press("ctrl+g")
        await until(pilot, lambda: "Copied A's answer" in toast_text(app))
        assert "sim:" not in seen(app)
        saved = list((tmp_path / "modelrace" / "answers").iterdir())
        assert len(saved) == 1 and saved[0].name.endswith("-A.md")

        await pilot.press("f4")
        await until(pilot, lambda: len(titles(app)) == 2)
        assert on_screen(app, "counts as not blind")
        await pilot.press("0")
        await until(pilot, lambda: len(load_votes()) == 1)
    [vote] = load_votes()
    assert (vote.verdict, vote.blind) == ("all_bad", False)


def test_arena_goes_with_the_dashboard_only() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tui", "--arena", "run", "hi"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "modelrace: --arena opens the dashboard; it does not go with 'run'"
    ]


async def test_a_failed_model_in_the_arena_hides_its_error_until_the_vote(sim_env: str) -> None:
    app = ModelRaceApp(["sim:error", FAST], history=PromptHistory(None), arena=True, arena_seed=3)
    async with app.run_test(notifications=True, size=(160, 48)) as pilot:
        await race(pilot, app, "why is the sky blue?")
        assert on_screen(app, "✗ failed", "the error is shown after the vote")
        assert "500" not in seen(app) and "sim:" not in seen(app)
        await pilot.press("equals_sign")
        await until(pilot, lambda: len(titles(app)) == 2)
        await until(pilot, lambda: "500" in seen(app))
        assert "the error is shown after the vote" not in seen(app)


async def test_the_arena_needs_two_models(sim_env: str) -> None:
    app = ModelRaceApp([FAST], history=PromptHistory(None), arena=True)
    async with app.run_test(notifications=True, size=(120, 40)) as pilot:
        app.prompt_box.load_text("hello")
        await pilot.press("enter")
        await until(pilot, lambda: "two models or more" in toast_text(app))
        assert app.race is None and app.prompt_box.text == "hello"


def test_a_vote_key_names_a_panel_by_place_and_a_missing_panel_is_refused() -> None:
    models = ["sim:a", "sim:b", "sim:c"]
    vote = ballot("3", models, 7, blind=True)
    assert (vote.verdict, vote.winner, vote.models, vote.blind) == (
        "win",
        "sim:c",
        tuple(models),
        True,
    )
    assert ballot(TIE, models, 7, blind=False).verdict == "tie"
    for choice, message in (("4", "no panel 4"), ("0", "no panel 0"), ("x", "unknown vote")):
        with pytest.raises(VoteRefused, match=message):
            ballot(choice, models, 7, blind=True)
    letters = {spec: letter(i) for i, spec in enumerate(models)}
    assert describe(vote, letters) == "Vote kept for race 7 (blind): C · sim:c wins"
    assert [letter(i) for i in (0, 25, 26)] == ["A", "Z", "Z27"]


def test_the_shuffle_is_a_permutation_repeatable_from_its_seed() -> None:
    specs = [f"sim:m{i}" for i in range(6)]
    first, again = Shuffler(11), Shuffler(11)
    orders = [first.order(specs) for _ in range(5)]
    assert orders == [again.order(specs) for _ in range(5)]
    assert all(sorted(order) == sorted(specs) for order in orders)
    assert len({tuple(order) for order in orders}) > 1


def test_a_conversation_keeps_its_order_until_its_models_change() -> None:
    specs = [f"sim:m{i}" for i in range(6)]
    shuffler, chat = Shuffler(11), object()
    kept = shuffler.order(specs, chat)
    assert shuffler.order(list(reversed(specs)), chat) == kept
    fewer = shuffler.order(specs[:5], chat)
    assert sorted(fewer) == sorted(specs[:5])
    # The new set is the one kept now.
    assert shuffler.order(specs[:5], chat) == fewer
    others = [shuffler.order(specs, object()) for _ in range(4)]
    assert any(order != kept for order in others)
