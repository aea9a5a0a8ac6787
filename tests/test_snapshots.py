"""Pictures of the main screen after a finished `both` race, at three terminal sizes.

The race is the simulator's, with its jitter-free profiles, recorded at the profiles' own
nominal times (time to first token, then one token every 1/tps) so every figure on screen is
the same on every run: a layout change shows up as a changed picture, not a changed number.
Update the pictures after an intended change with `pytest --snapshot-update`.
"""

from __future__ import annotations

import pytest

from providers.events import Finished, Started, TextDelta, Usage
from providers.record import Result, Run
from providers.sim.profiles import profile_for
from providers.sim.text import answer_pieces
from tui.app import ModelRaceApp
from tui.history import PromptHistory
from tui.widgets.lagmeter import LagMeter

PROMPT = "why is the sky blue?"
THREE = ["sim:fast", "sim:slow,tps=60", "sim:localish,jitter=0,tps=80"]
# Overhead between two sync requests, and before the async ones start: small, and fixed.
GAP = 0.004


def nominal(model: str, start: float) -> Result:
    """The result the simulator's schedule promises for `model`, starting at `start`."""
    name = model.split(":", 1)[1]
    profile = profile_for(name)
    pieces, _ = answer_pieces(name, PROMPT)
    result = Result(model)
    result.apply(Started(start))
    t = start + profile.ttft_s
    for piece in pieces:
        result.apply(TextDelta(t, piece))
        t += 1 / profile.tokens_per_s
    result.apply(Usage(t, 8, len(pieces)))
    result.apply(Finished(t))
    return result


def both_race(models: list[str]) -> list[Run]:
    """A finished `both` race: sync one after another from 0, async all at once from 100."""
    sync, t = [], 0.0
    for model in models:
        result = nominal(model, t + GAP)
        sync.append(result)
        t = result.end or t
    sync_run = Run("sync", sync, False, t0=0.0, t_end=t + GAP)
    results = [nominal(model, 100.0 + GAP) for model in models]
    end = max(r.end or 0.0 for r in results)
    return [sync_run, Run("async", results, True, t0=100.0, t_end=end + GAP)]


def race_app(models: list[str]) -> tuple[ModelRaceApp, object]:
    app = ModelRaceApp(models, history=PromptHistory(None), mode="both")

    async def show_race(pilot) -> None:  # type: ignore[no-untyped-def]
        # Two things change between frames of an idle screen: the loop lag and the cursor.
        app.query_one(LagMeter).hold()
        app.prompt_box.cursor_blink = False
        app.attach_runs(both_race(models))
        for _ in range(100):
            await pilot.pause(0.05)
            shown = [panel for panel in app.panels if panel.display]
            if all(panel.view.rendered_markdown for panel in shown):
                break
        await pilot.pause(0.2)

    return app, show_race


@pytest.mark.parametrize(
    ("size", "models"),
    [
        ((200, 50), THREE),
        ((80, 24), THREE),
        ((60, 20), [THREE[i % 3] + f",seed={i}" for i in range(15)]),
    ],
    ids=["200x50", "80x24", "60x20-15-models"],
)
def test_main_screen_after_a_both_race(snap_compare, size, models) -> None:  # type: ignore[no-untyped-def]
    app, show_race = race_app(models)
    assert snap_compare(app, terminal_size=size, run_before=show_race)


def arena_app() -> tuple[ModelRaceApp, object]:
    """A blind race through the simulator, its shuffle seeded: only letters and answers show,
    and no figure that changes from run to run (the arena hides every timing)."""
    specs = ["sim:fast,tokens=24,tps=400", "sim:localish,tokens=20,tps=400", "sim:slow,tps=400"]
    app = ModelRaceApp(specs, history=PromptHistory(None), arena=True, arena_seed=5)

    async def blind_race(pilot) -> None:  # type: ignore[no-untyped-def]
        app.query_one(LagMeter).hold()
        app.prompt_box.cursor_blink = False
        app.prompt_box.load_text(PROMPT)
        await pilot.press("enter")
        for _ in range(300):
            await pilot.pause(0.05)
            shown = [panel for panel in app.panels if panel.display]
            if app.stored_id is not None and all(p.view.rendered_markdown for p in shown):
                break
        await pilot.pause(0.2)

    return app, blind_race


@pytest.mark.parametrize("size", [(200, 50), (80, 24)], ids=["200x50", "80x24"])
def test_arena_screen_before_the_vote(snap_compare, sim_env, size) -> None:  # type: ignore[no-untyped-def]
    app, blind_race = arena_app()
    assert snap_compare(app, terminal_size=size, run_before=blind_race)
