"""The dashboard driven through Textual's pilot against the real simulator on loopback.

Every check reads what a user would: the screen's text (from the app's own screenshot), the
prompt box, files written, or the records the engine exports; never the widgets' insides.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from screen import on_screen, screen_lines, until

from providers.record import Result, Run, State, speedup
from providers.sim import SimServer, expected_answer
from providers.store.prompts import recent_prompts
from tui.app import ModelRaceApp
from tui.history import PromptHistory
from tui.screens.models import ModelPickerScreen
from tui.screens.settings import Settings, SettingsScreen
from tui.widgets.panel import AnswerPanel

ROOT = Path(__file__).resolve().parent.parent
SDKS = ("openai", "anthropic", "google.genai", "ollama")
FAST = "sim:fast,tokens=30,tps=300,ttft=0.05"
FAST2 = "sim:localish,tokens=20,tps=300,ttft=0.1,jitter=0"


@pytest.fixture(scope="module", autouse=True)
def sim(module_sim: SimServer) -> str:
    assert module_sim.url is not None
    return module_sim.url


def make_app(specs: list[str], mode: str = "async", path: Path | None = None) -> ModelRaceApp:
    return ModelRaceApp(specs, history=PromptHistory(path), mode=mode)


async def send(pilot, app: ModelRaceApp, prompt: str) -> None:  # type: ignore[no-untyped-def]
    before = app.race
    app.prompt_box.load_text(prompt)
    await pilot.press("enter")
    await until(pilot, lambda: app.race is not before, timeout=2)


def rendered(panel: AnswerPanel) -> bool:
    """A panel on screen whose answer is over shows its Markdown rendering."""
    result = panel.result
    if result is None or not panel.display:
        return True
    return result.state.over and (not result.chunks or panel.view.rendered_markdown)


async def settle(pilot, app: ModelRaceApp) -> None:  # type: ignore[no-untyped-def]
    """Wait for the race to end and every panel to show its final (Markdown) rendering."""
    await until(pilot, lambda: not app.racing, timeout=30)
    await until(pilot, lambda: all(rendered(p) for p in app.panels))
    await pilot.pause(0.2)


def panel_lines(app: ModelRaceApp, panel: AnswerPanel) -> list[str]:
    """The rows of a panel's answer as they are on screen."""
    region = panel.view.region
    lines = screen_lines(app)
    return [lines[y][region.x : region.right].rstrip() for y in range(region.y, region.bottom)]


def status_line(app: ModelRaceApp, panel: AnswerPanel) -> str:
    region = panel.status.region
    return screen_lines(app)[region.y][region.x : region.right].strip()


def model_name(spec: str) -> str:
    return spec.split(":", 1)[1]


async def test_prompt_fills_every_panel_with_the_exact_answer() -> None:
    app = make_app([FAST, FAST2])
    async with app.run_test(notifications=True, size=(160, 48)) as pilot:
        assert app.focused is app.prompt_box
        await send(pilot, app, "why is the sky blue?")
        await settle(pilot, app)
        for panel in app.panels:
            want = expected_answer(model_name(panel.spec), "why is the sky blue?")
            assert panel.result is not None and panel.result.state is State.DONE
            assert panel.result.text == want
            # After the run a panel shows the start of its answer.
            first_words = " ".join(want.split()[:4])
            assert first_words in " ".join(panel_lines(app, panel)[0].split())
            assert status_line(app, panel).startswith("✓ done")
        assert app.prompt_box.text == ""


async def test_a_failing_model_shows_its_error_while_the_others_finish() -> None:
    app = make_app(["sim:error", FAST])
    async with app.run_test(notifications=True, size=(160, 48)) as pilot:
        await send(pilot, app, "hello")
        await settle(pilot, app)
        failed, ok = app.panels
        assert failed.result.state is State.FAILED
        assert status_line(app, failed).startswith("✗ failed")
        assert "HTTP 500" in " ".join(panel_lines(app, failed))
        assert ok.result.state is State.DONE
        assert ok.result.text == expected_answer(model_name(FAST), "hello")


async def test_escape_cancels_and_keeps_partial_text() -> None:
    slow = "sim:slow,tokens=400,tps=40,ttft=0.05"
    app = make_app([slow])
    async with app.run_test(notifications=True, size=(120, 40)) as pilot:
        await send(pilot, app, "tell me a long story")
        panel = app.panels[0]
        await until(pilot, lambda: panel.view.fed >= 5)
        await pilot.press("escape")
        await until(pilot, lambda: not app.racing, timeout=5)
        await settle(pilot, app)
        result = panel.result
        assert result.state is State.CANCELLED
        full = expected_answer(model_name(slow), "tell me a long story")
        assert result.text and full.startswith(result.text) and result.text != full
        assert " ".join(full.split()[:4]) in " ".join(panel_lines(app, panel)[0].split())
        assert status_line(app, panel).startswith("■ cancelled")
        assert app.race is not None and app.race.runs[0].cancelled


async def test_mode_switch_changes_the_timeline() -> None:
    specs = ["sim:fast,tokens=15,tps=150,ttft=0.1", "sim:fast,tokens=15,tps=150,ttft=0.15"]
    app = make_app(specs, mode="sync")
    async with app.run_test(notifications=True, size=(160, 48)) as pilot:
        await send(pilot, app, "compare")
        await settle(pilot, app)
        await pilot.press("ctrl+t")
        assert app.mode == "async"
        await send(pilot, app, "compare")
        await settle(pilot, app)
        await pilot.pause(0.2)
        sync_run, async_run = app.runs[-2:]
        assert (sync_run.mode, async_run.mode) == ("sync", "async")
        a, b = sync_run.results
        assert a.end <= b.start, "sync rows must not overlap"
        a, b = async_run.results
        assert max(a.start, b.start) < min(a.end, b.end), "async rows must overlap"
        lines = screen_lines(app)
        assert any("#1 sync" in line and "wall" in line for line in lines)
        assert any("#2 async" in line and "ideal" in line for line in lines)
        ratio = speedup([sync_run, async_run])
        assert ratio is not None and on_screen(app, f"speedup sync ÷ async {ratio:.2f}×")


async def test_markup_and_escapes_in_an_answer_are_shown_literally() -> None:
    app = make_app(["sim:markup"])
    async with app.run_test(notifications=True, size=(160, 48)) as pilot:
        await send(pilot, app, "markup please")
        await settle(pilot, app)
        drawn = "\n".join(panel_lines(app, app.panels[0]))
        assert "[bold red]x[/]" in drawn
        assert "␛[2J" in drawn
        assert "[red]not red[/red]" in drawn
        assert "\x1b" not in app.export_screenshot()


async def test_history_recalls_the_last_prompt(tmp_path: Path) -> None:
    path = tmp_path / "modelrace.db"
    app = make_app([FAST], path=path)
    async with app.run_test(notifications=True, size=(120, 40)) as pilot:
        await send(pilot, app, "first question")
        await settle(pilot, app)
        app.prompt_box.load_text("draft")
        await pilot.press("up")
        assert app.prompt_box.text == "first question"
        await pilot.press("down")
        assert app.prompt_box.text == "draft"
        await pilot.pause(0.2)
    assert recent_prompts(path=path) == ["first question"]
    again = PromptHistory(path)
    again.load()
    assert again.previous("") == "first question"


async def test_bad_input_gives_a_notification_and_keeps_what_was_typed() -> None:
    app = make_app([FAST])
    async with app.run_test(notifications=True, size=(120, 40)) as pilot:
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, SettingsScreen)
        app.screen.query_one("#temperature").value = "hot"
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, SettingsScreen)
        assert app.screen.query_one("#temperature").value == "hot"
        assert on_screen(app, "Temperature must be a number")
        await pilot.press("escape")
        await pilot.press("ctrl+l")
        assert isinstance(app.screen, ModelPickerScreen)
        box = app.screen.query_one("#add")
        box.value = "nosuch:model"
        box.focus()
        await pilot.press("enter")
        await until(pilot, lambda: on_screen(app, "unknown provider"), 3)
        assert box.value == "nosuch:model"
        box.value = "sim:slow"
        await pilot.press("enter")
        await until(pilot, lambda: box.value == "", 3)
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert [p.spec for p in app.panels] == [FAST, "sim:slow"]
        # Switch everything off: a run with no models is refused with a notification.
        await pilot.press("ctrl+l")
        app.screen.query_one("#models").deselect_all()
        await pilot.press("escape")
        await pilot.pause(0.1)
        app.prompt_box.load_text("anyone?")
        await pilot.press("enter")
        assert app.race is None and app.prompt_box.text == "anyone?"
        await until(pilot, lambda: on_screen(app, "No models selected"), 3)


async def test_zoom_and_copy_act_on_the_selected_panel(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    app = make_app([FAST, FAST2])
    async with app.run_test(notifications=True, size=(160, 48)) as pilot:
        await send(pilot, app, "zoom")
        await settle(pilot, app)
        await pilot.press("ctrl+n", "ctrl+f")
        await pilot.pause(0.1)
        titles = [line for line in screen_lines(app) if "╭─ sim:" in line]
        assert len(titles) == 1 and model_name(FAST2) in titles[0]
        await pilot.press("ctrl+g")
        folder = tmp_path / "modelrace" / "answers"
        await until(pilot, lambda: folder.is_dir() and any(folder.iterdir()), 5)
        [saved] = folder.iterdir()
        assert saved.read_text() == expected_answer(model_name(FAST2), "zoom")
        await until(pilot, lambda: on_screen(app, "Copied", str(saved)), 3)
        await pilot.press("ctrl+f")
        await pilot.pause(0.1)
        assert len([line for line in screen_lines(app) if "╭─ sim:" in line]) == 1
        assert sum(line.count("╭─ sim:") for line in screen_lines(app)) == 2


async def test_main_screen_snapshot_shows_titles_timeline_and_mode() -> None:
    app = make_app([FAST, "sim:error"], mode="both")
    async with app.run_test(notifications=True, size=(160, 48)) as pilot:
        # Waited for, not paused for: a loaded machine takes longer than 0.3 s to draw.
        wanted = ("sim:fast,tokens=30", "sim:error", "mode both", "loop lag", "Send")
        await until(pilot, lambda: on_screen(app, *wanted))
        await send(pilot, app, "snapshot")
        await settle(pilot, app)
        assert on_screen(app, "#1 sync wall", "#2 async wall", "ideal", "HTTP 500")


def test_no_sdk_is_imported_before_the_first_run() -> None:
    code = f"""
import asyncio, sys
from providers.config import Config
from tui.app import ModelRaceApp
from tui.history import PromptHistory
app = ModelRaceApp(["sim:fast", "openai:gpt-5-mini", "anthropic:claude-haiku-4-5",
                    "gemini:gemini-2.5-flash", "ollama:qwen3:8b"], Config(),
                   history=PromptHistory(None))
async def main():
    async with app.run_test() as pilot:
        await pilot.pause(0.3)
        print(",".join(m for m in {SDKS!r} if m in sys.modules) or "none", flush=True)
asyncio.run(main())
"""
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[0] == "none"


async def test_every_key_has_a_palette_entry_and_the_palette_switches_mode() -> None:
    app = make_app([FAST], mode="both")
    async with app.run_test(notifications=True, size=(120, 40)) as pilot:
        names = [name for name, _, _ in app.palette_actions()]
        for binding in app.BINDINGS:
            assert binding.description in names  # type: ignore[union-attr]
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"Mode: sync")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(pilot, lambda: app.mode == "sync", timeout=3)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (("", "3", "", "", ""), "Temperature must be between 0 and 2"),
        (("", "", "0", "", ""), "Max tokens must be at least 1"),
        (("", "", "", "-2", ""), "Timeout must be a positive number"),
        (("", "", "", "", "0"), "Concurrency limit must be between 1 and 64"),
        (("", "", "many", "", ""), "Max tokens must be a number"),
    ],
)
def test_settings_are_checked_like_the_command_line(fields: tuple[str, ...], message: str) -> None:
    from providers.request import SettingsError
    from tui.screens.settings import parse_settings

    with pytest.raises(SettingsError, match=message):
        parse_settings(*fields)
    assert parse_settings("be brief", "0.5", "100", "30", "") == Settings(
        "be brief", 0.5, 100, 30.0, 3
    )


async def test_timeline_speedup_ignores_cancelled_runs() -> None:
    def run(mode: str, wall: float, cancelled: bool = False) -> Run:
        r = Result("sim:fast", state=State.DONE, start=0.0, first_token=0.1, end=wall)
        return Run(mode, [r], mode != "sync", t0=0.0, t_end=wall, cancelled=cancelled)

    app = make_app(["sim:fast"])
    async with app.run_test(notifications=True, size=(160, 48)) as pilot:
        app.attach_runs([run("sync", 4.0), run("async", 1.0, cancelled=True)])
        await pilot.pause(0.3)
        assert on_screen(app, "run was cancelled)")
        assert not on_screen(app, "speedup sync ÷ async")
        app.attach_runs([run("async", 2.0)])
        await pilot.pause(0.3)
        assert on_screen(app, "speedup sync ÷ async 2.00×", "speedup 2.00×")


async def test_markup_in_specs_and_errors_is_shown_as_text_not_parsed() -> None:
    app = make_app(["bad[/x]:y", FAST, "sim:[bold]x[/]"])
    async with app.run_test(notifications=True, size=(160, 48)) as pilot:
        await pilot.pause(0.2)
        # Toasts render markup-enabled messages with Content.from_markup, where "[/x]" raises.
        assert on_screen(app, "bad[/x]:y")
        await send(pilot, app, "hi")
        await settle(pilot, app)
        failed = app.panels[1]
        assert failed.spec == "sim:[bold]x[/]" and failed.result.state is State.FAILED
        assert on_screen(app, "sim:[bold]x[/]")
        assert "[bold]x[/]" in " ".join(panel_lines(app, failed))
        await pilot.press("ctrl+l")
        box = app.screen.query_one("#add")
        box.value = "sim:fast,ttft=[/]"
        box.focus()
        await pilot.press("enter")
        await until(pilot, lambda: on_screen(app, "ttft=[/]"), 3)
        assert app.is_running


SMALL_RACE = ["sim:fast,tokens=40,jitter=0", "sim:slow,tokens=30,tps=150,ttft=0.2,jitter=0"]


@pytest.mark.parametrize("size", [(80, 24), (60, 20)])
async def test_a_small_terminal_shows_the_speedup_and_both_walls(size: tuple[int, int]) -> None:
    models = SMALL_RACE if size[0] == 80 else [f"{SMALL_RACE[i % 2]},seed={i}" for i in range(15)]
    app = make_app(models, mode="both")
    async with app.run_test(notifications=True, size=size) as pilot:
        await send(pilot, app, "compare")
        await settle(pilot, app)
        sync_run, async_run = app.runs[-2:]
        ratio = speedup([sync_run, async_run])
        assert ratio is not None
        lines = screen_lines(app)
        [bar] = [line for line in lines if "speedup " in line and "÷" not in line]
        assert f"speedup {ratio:.2f}×" in bar
        assert f"sync {sync_run.wall_s:.2f} s" in bar
        assert f"async {async_run.wall_s:.2f} s" in bar
        # Every model has its row on the timeline, the sync staircase included.
        assert on_screen(app, "#1 sync", "#2 async")
        # Panels that do not fit are paged, not squashed to nothing.
        shown = [panel for panel in app.panels if panel.display]
        assert shown and all(panel.view.region.height >= 3 for panel in shown)
        if len(shown) < len(app.panels):
            await pilot.press("ctrl+n")
            assert any(f"2/{len(app.panels)}" in line for line in screen_lines(app))


async def test_a_narrow_status_line_drops_whole_fields() -> None:
    app = make_app([f"{SMALL_RACE[0]},seed={i}" for i in range(4)], mode="async")
    async with app.run_test(notifications=True, size=(60, 20)) as pilot:
        await send(pilot, app, "narrow")
        await settle(pilot, app)
        for panel in [p for p in app.panels if p.display]:
            status = status_line(app, panel)
            result = panel.result
            assert status.startswith("✓ done")
            # Whatever is shown is whole: the total time, with its unit, or nothing.
            assert f"{result.duration:.1f} s" in status
            assert "…" not in status


async def test_reading_position_holds_while_streaming_and_after_the_answer_ends() -> None:
    long = "sim:fast,tokens=3000,tps=500,ttft=0.05,jitter=0"
    app = make_app([long])
    async with app.run_test(notifications=True, size=(100, 30)) as pilot:
        await send(pilot, app, "a long story")
        panel = app.panels[0]
        await until(pilot, lambda: panel.view.fed >= 300)
        panel.view.focus()  # what Tab does; a click waits for a busy screen to settle
        await pilot.press("pageup")
        fed = panel.view.fed
        before = [line for line in panel_lines(app, panel) if line.strip()]
        await until(pilot, lambda: panel.view.fed >= fed + 200)
        assert panel.result.state is State.STREAMING, "the test scrolled while it streamed"
        assert [line for line in panel_lines(app, panel) if line.strip()] == before
        await settle(pilot, app)
        after = "\n".join(line.strip() for line in panel_lines(app, panel))
        assert before[0].strip() in after, "the Markdown rendering kept the reader's place"


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_after_a_run_each_panel_shows_the_start_of_its_answer(size) -> None:  # type: ignore[no-untyped-def]
    models = [f"sim:fast,tokens=400,tps=2000,jitter=0,seed={i}" for i in range(8)]
    app = make_app(models)
    async with app.run_test(notifications=True, size=size) as pilot:
        await send(pilot, app, "tell me more")
        await settle(pilot, app)
        for panel in [p for p in app.panels if p.display]:
            want = expected_answer(model_name(panel.spec), "tell me more")
            assert len(want) > 1000
            first_words = " ".join(want.split()[:3])
            assert first_words in " ".join(panel_lines(app, panel)[0].split())


async def test_a_second_enter_while_streaming_cancels_and_restarts() -> None:
    slow = "sim:slow,tokens=300,tps=40,ttft=0.05"
    app = make_app([slow])
    async with app.run_test(notifications=True, size=(120, 40)) as pilot:
        await send(pilot, app, "first question")
        await until(pilot, lambda: app.panels[0].view.fed >= 3)
        first = app.race
        app.prompt_box.load_text("second question")
        await pilot.press("enter")
        await until(pilot, lambda: on_screen(app, "press Enter again"), 3)
        assert app.race is first and app.prompt_box.text == "second question"
        await pilot.press("enter")
        await until(pilot, lambda: app.race is not first, 5)
        assert first.runs[0].cancelled and app.prompt_box.text == ""
        await pilot.press("escape")
        await settle(pilot, app)
        want = expected_answer(model_name(slow), "second question")
        assert want.startswith(app.panels[0].result.text)


async def test_the_palette_screenshot_is_saved_where_a_folder_exists(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    app = make_app([FAST])
    async with app.run_test(notifications=True, size=(120, 40)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"Screenshot")
        await pilot.pause(0.5)
        await pilot.press("enter")
        folder = tmp_path / "data" / "modelrace" / "screenshots"
        await until(pilot, lambda: folder.is_dir() and any(folder.glob("*.svg")), 5)
        [shot] = folder.glob("*.svg")
        await until(pilot, lambda: on_screen(app, "Saved screenshot to", shot.name), 3)
        assert not on_screen(app, "[$text-success]")
        assert not (tmp_path / "Downloads").exists()


def test_fields_that_do_not_fit_are_dropped_whole_least_important_first() -> None:
    from tui.widgets.fields import field, fit

    fields = [field("speedup 2.12×", 0), field("sync 6.76 s", 1), field("loop lag 3 ms", 5)]
    assert fit(fields, 80).plain == "speedup 2.12×  sync 6.76 s  loop lag 3 ms"
    assert fit(fields, 30).plain == "speedup 2.12×  sync 6.76 s"
    assert fit(fields, 20).plain == "speedup 2.12×"
    assert fit(fields, 8).plain == "speedup…"


async def test_settings_show_on_the_main_screen_and_dialog_labels_wrap() -> None:
    app = make_app([FAST])
    async with app.run_test(notifications=True, size=(80, 24)) as pilot:
        await pilot.press("ctrl+l")
        assert on_screen(app, "Add a model: PROVIDER:MODEL (e.g. sim:fast,tps=50), then Enter.")
        assert on_screen(app, "sim:hosted", "sim:stall")  # the simulator's models are listed
        box = app.screen.query_one("#add")
        box.value = FAST
        box.focus()
        await pilot.press("enter")
        await until(pilot, lambda: on_screen(app, "is already in the list"), 3)
        await pilot.press("escape")
        await pilot.press("ctrl+o")
        await pilot.pause(0.3)
        assert on_screen(app, "Enter runs it with the prompt box as {input}")
        await pilot.press("escape")
    app = make_app([FAST])
    async with app.run_test(notifications=True, size=(160, 40)) as pilot:
        await pilot.press("ctrl+s")
        app.screen.query_one("#temperature").value = "0.5"
        app.screen.query_one("#max_tokens").value = "100"
        await pilot.press("ctrl+s")
        await pilot.pause(0.2)
        assert on_screen(app, "temperature 0.5", "max 100 tokens")


async def test_one_long_run_does_not_squash_the_axis_for_the_next() -> None:
    def run(mode: str, wall: float, cancelled: bool = False) -> Run:
        r = Result("sim:fast", state=State.DONE, start=0.0, first_token=0.1, end=wall)
        return Run(mode, [r], mode != "sync", t0=0.0, t_end=wall, cancelled=cancelled)

    app = make_app(["sim:fast"])
    async with app.run_test(notifications=True, size=(160, 48)) as pilot:
        app.attach_runs([run("async", 40.0, cancelled=True)])
        await pilot.pause(0.3)
        assert any("40s" in line for line in screen_lines(app) if line.startswith(" time"))
        app.attach_runs([run("sync", 2.0)])
        app.attach_runs([run("async", 1.0)])
        await pilot.pause(0.3)
        [axis] = [line for line in screen_lines(app) if line.startswith(" time")]
        assert axis.split()[-1] == "2s"
        assert on_screen(app, "»40.00s", "» longer than the axis")


async def test_a_model_that_fails_mid_answer_keeps_its_text_and_shows_the_error() -> None:
    app = make_app(["sim:flaky"])
    async with app.run_test(notifications=True, size=(160, 48)) as pilot:
        await send(pilot, app, "hello")
        await settle(pilot, app)
        panel = app.panels[0]
        result = panel.result
        assert result.state is State.FAILED and result.text
        shown = " ".join(" ".join(panel_lines(app, panel)).split())
        assert " ".join(result.text.split()[:5]) in shown
        assert "✗ " + " ".join(result.error.split()) in shown
        assert status_line(app, panel).startswith("✗ failed")
