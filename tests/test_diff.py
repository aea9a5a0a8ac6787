"""Word-level diffs: of known texts, on the command line (`show ID --diff A B`) and in the
dashboard's diff screen (ctrl+d), where what is checked is what the screen draws."""

from __future__ import annotations

import html
import os
import pty
import re
import subprocess
import sys

import pytest
from cli_helpers import ROOT, modelrace
from screen import on_screen, toast_text, until

from providers.events import Finished, Started, TextDelta
from providers.record import Result, Run
from providers.sim import expected_answer
from providers.store import StoredRace, save
from providers.textdiff import wdiff, word_diff
from tui.app import ModelRaceApp
from tui.history import PromptHistory

A = "The quick brown fox jumps over the lazy dog."
B = "The quick red fox jumped over the lazy dog!"
KNOWN = "The quick [-brown-] {+red+} fox [-jumps-] {+jumped+} over the lazy [-dog.-] {+dog!+}"


# --- the diff itself ---------------------------------------------------------------------------


def test_a_diff_of_two_known_texts_marks_each_changed_word() -> None:
    diff = word_diff(A, B)
    assert wdiff(diff) == KNOWN
    assert (diff.deleted, diff.inserted, diff.same) == (3, 3, 6)
    assert diff.summary() == "3 words deleted, 3 inserted, 6 in common (67% alike)"
    assert [p.text for p in diff.left if p.kind == "delete"] == ["brown", "jumps", "dog."]
    assert [p.text for p in diff.right if p.kind == "insert"] == ["red", "jumped", "dog!"]


def test_each_side_keeps_its_own_whitespace_and_spacing_is_no_change() -> None:
    a = "  One two\n\nthree   four\n"
    b = "One two three four"
    diff = word_diff(a, b)
    assert "".join(p.text for p in diff.left) == a
    assert "".join(p.text for p in diff.right) == b
    assert (diff.deleted, diff.inserted) == (0, 0)
    assert wdiff(diff) == b


def test_words_added_or_dropped_at_either_end_or_everywhere() -> None:
    assert wdiff(word_diff("a b", "a")) == "a [-b-]"
    assert wdiff(word_diff("b c", "a b c")) == "{+a+} b c"
    assert wdiff(word_diff("", "x y")) == "{+x y+}"
    assert wdiff(word_diff("x y", "")) == "[-x y-]"
    assert word_diff("", "").similarity == 1.0
    # Changed runs span several words; the space after a run is not part of it.
    diff = word_diff("keep one two keep", "keep three keep")
    assert wdiff(diff) == "keep [-one two-] {+three+} keep"
    assert [p.text for p in diff.left] == ["keep ", "one two", " keep"]


# --- `modelrace show ID --diff A B` ------------------------------------------------------------


def recorded(spec: str, text: str) -> Result:
    result = Result(spec)
    result.apply(Started(0.0))
    for i, word in enumerate(re.findall(r"\S+\s*", text)):
        result.apply(TextDelta(0.1 + 0.01 * i, word))
    result.apply(Finished(0.5))
    return result


def stored_race(texts: dict[str, str]) -> int:
    results = [recorded(spec, text) for spec, text in texts.items()]
    run = Run("async", results, True, t0=0.0, t_end=0.5)
    return save(StoredRace("compare these", [run], "async"))


def test_show_diff_prints_wdiff_markers_by_position_or_by_spec(sim_env: str) -> None:
    race = stored_race({"sim:fast": A, "sim:slow": B, "sim:markup": "x"})
    by_position = modelrace("show", str(race), "--diff", "1", "2", sim=sim_env)
    assert by_position.returncode == 0, by_position.stderr
    head, blank, body = by_position.stdout.splitlines()
    assert head.startswith(f"race {race}: [-1. sim:fast-] {{+2. sim:slow+}} · 3 words deleted")
    assert (blank, body) == ("", KNOWN)
    by_spec = modelrace("show", str(race), "--diff", "sim:fast", "sim:slow", sim=sim_env)
    assert by_spec.stdout == by_position.stdout
    swapped = modelrace("show", str(race), "--diff", "sim:slow", "1", sim=sim_env)
    assert swapped.stdout.splitlines()[2].startswith("The quick [-red-] {+brown+} fox")


@pytest.mark.parametrize("which", ["4", "0", "sim:nope"])
def test_show_diff_of_an_answer_the_race_lacks_is_one_line_and_exit_2(
    sim_env: str, which: str
) -> None:
    race = stored_race({"sim:fast": A, "sim:slow": B})
    out = modelrace("show", str(race), "--diff", "1", which, sim=sim_env)
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.count("\n") == 1
    assert f"race {race} has no answer {which!r}" in out.stderr
    assert "sim:fast, sim:slow" in out.stderr


def test_show_diff_of_a_bench_or_a_missing_race_is_refused(sim_env: str) -> None:
    bench = modelrace("show", "b1", "--diff", "1", "2", sim=sim_env)
    assert bench.returncode == 2
    assert "only a race's answers diff" in bench.stderr
    missing = modelrace("show", "99", "--diff", "1", "2", sim=sim_env)
    assert missing.returncode == 2
    assert "no stored race has id 99" in missing.stderr


def test_show_diff_on_a_terminal_colours_instead_of_marking(sim_env: str) -> None:
    race = stored_race({"sim:fast": A, "sim:slow": B})
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui", "show", str(race), "--diff", "1", "2"],
        stdout=follower,
        stderr=subprocess.PIPE,
        env={**os.environ, "MODELRACE_SIM_URL": sim_env, "COLUMNS": "200", "TERM": "xterm"},
        cwd=ROOT,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # the other end closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    assert proc.wait(timeout=30) == 0
    out = b"".join(chunks).decode()
    assert "[-" not in out and "{+" not in out
    # Deleted words struck through (SGR 9), inserted ones bold (SGR 1), each in colour.
    assert "\x1b[9;31mbrown\x1b[0m" in out, repr(out)
    assert "\x1b[1;32mred\x1b[0m" in out, repr(out)


# --- the dashboard's diff screen ---------------------------------------------------------------

PROMPT = "explain asyncio"
LEFT, RIGHT = "sim:fast,tokens=30,tps=400", "sim:fast,tokens=30,tps=400,seed=2"


def drawn_style(app: ModelRaceApp, word: str) -> str:
    """The CSS the screenshot draws `word` with (fill, weight, line-through)."""
    svg = app.export_screenshot()
    styles = dict(re.findall(r"\.(terminal-\d+-r\d+) \{ ([^}]*)\}", svg))
    for css_class, content in re.findall(r'<text class="([\w-]+)"[^>]*>([^<]*)</text>', svg):
        if word in html.unescape(content).replace("\xa0", " ").split():
            return styles.get(css_class, "")
    raise AssertionError(f"{word!r} is not drawn on its own")


def only_in(text: str, other: str) -> str:
    """A word of `text` that `other` never uses (so the diff must colour it)."""
    others = set(other.split())
    return next(w for w in text.split() if w not in others and w.isalpha() and len(w) > 3)


async def race(pilot, app: ModelRaceApp) -> None:  # type: ignore[no-untyped-def]
    app.prompt_box.load_text(PROMPT)
    await pilot.press("enter")
    await until(
        pilot,
        lambda: all(p.result is not None and p.result.state.over for p in app.panels),
    )


@pytest.mark.usefixtures("sim_env")
async def test_ctrl_d_shows_both_answers_with_deleted_and_inserted_words_coloured() -> None:
    left, right = (expected_answer(m.removeprefix("sim:"), PROMPT) for m in (LEFT, RIGHT))
    gone, new = only_in(left, right), only_in(right, left)
    app = ModelRaceApp([LEFT, RIGHT], history=PromptHistory(None), mode="async")
    async with app.run_test(size=(120, 36)) as pilot:
        await race(pilot, app)
        await pilot.press("ctrl+d")
        diff = word_diff(left, right)
        await until(
            pilot, lambda: on_screen(app, f"A: 1. {LEFT}", f"B: 2. {RIGHT}", diff.summary())
        )
        # Side by side, each answer's lines interleave with the other's: its first words only.
        assert on_screen(app, left[:30], right[:30])
        assert "line-through" in drawn_style(app, gone)
        assert "line-through" not in drawn_style(app, new)
        assert "bold" in drawn_style(app, new)
        # s swaps the sides: the same word is now an insertion.
        await pilot.press("s")
        await until(pilot, lambda: on_screen(app, f"A: 2. {RIGHT}", f"B: 1. {LEFT}"))
        await until(pilot, lambda: "line-through" in drawn_style(app, new))
        assert "line-through" not in drawn_style(app, gone)
        # b walks B through the answers: B is the same as A, nothing differs.
        await pilot.press("b")
        await until(pilot, lambda: on_screen(app, f"B: 2. {RIGHT}", "0 words deleted, 0 inserted"))
        await pilot.press("escape")
        await until(pilot, lambda: not on_screen(app, "0 words deleted"))
        assert not app.screen.is_modal


@pytest.mark.usefixtures("sim_env")
async def test_the_diff_screen_shows_markup_and_escapes_as_text() -> None:
    app = ModelRaceApp(["sim:markup", LEFT], history=PromptHistory(None), mode="async")
    async with app.run_test(size=(120, 40)) as pilot:
        await race(pilot, app)
        await pilot.press("ctrl+d")
        await until(pilot, lambda: on_screen(app, "A: 1. sim:markup", "[bold red]x[/]"))
        assert on_screen(app, "[link=http://x]y[/link]", "␛[31mred?␛[0m")


@pytest.mark.usefixtures("sim_env")
async def test_ctrl_d_with_nothing_to_compare_says_why() -> None:
    app = ModelRaceApp([LEFT, RIGHT], history=PromptHistory(None), mode="async")
    async with app.run_test(notifications=True, size=(120, 36)) as pilot:
        await pilot.press("ctrl+d")
        await until(pilot, lambda: "Nothing to diff yet" in toast_text(app))
        assert not app.screen.is_modal
    one = ModelRaceApp([LEFT], history=PromptHistory(None), mode="async")
    async with one.run_test(notifications=True, size=(120, 36)) as pilot:
        await pilot.press("ctrl+d")
        await until(pilot, lambda: "Diff needs two panels" in toast_text(one))


@pytest.mark.usefixtures("sim_env")
async def test_ctrl_d_compares_a_models_turn_with_its_earlier_turn() -> None:
    follow_up = "explain threads instead"
    now, before = (expected_answer(LEFT.removeprefix("sim:"), p) for p in (follow_up, PROMPT))
    gone, new = only_in(now, before), only_in(before, now)
    app = ModelRaceApp([LEFT, RIGHT], history=PromptHistory(None), mode="async")
    async with app.run_test(size=(120, 36)) as pilot:
        await race(pilot, app)
        await until(pilot, lambda: not app.racing)
        first = app.race
        app.prompt_box.load_text(follow_up)
        await pilot.press("enter")
        await until(pilot, lambda: app.race is not first and not app.racing)
        await until(pilot, lambda: on_screen(app, "turn 2"))
        await pilot.press("ctrl+d")
        await until(pilot, lambda: on_screen(app, f"A: 1. {LEFT} · turn 2", f"B: 2. {RIGHT}"))
        # b walks B on from the other model's answer to this model's own earlier turn.
        await pilot.press("b")
        diff = word_diff(now, before)
        await until(pilot, lambda: on_screen(app, f"B: {LEFT} · turn 1", diff.summary()))
        assert diff.inserted and diff.deleted
        assert "line-through" in drawn_style(app, gone)
        assert "bold" in drawn_style(app, new) and "line-through" not in drawn_style(app, new)
