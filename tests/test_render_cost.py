"""Drawing costs what changed, not what is there: a panel streaming one very long line wraps
only the new text each poll, and the timeline rebuilds only rows that changed and are seen.

Work is counted (characters wrapped, rows built), never timed; `benchmarks/long_line.py` and
`benchmarks/timeline.py` hold the times. The screen is checked too: counting less must not
show anything different.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from rich.cells import cell_len
from screen import screen_lines
from textual.app import App, ComposeResult

from providers.events import Started, TextDelta
from providers.record import Result, Run, State
from tui.app import ModelRaceApp
from tui.history import PromptHistory
from tui.text import LineWrap, wrap
from tui.widgets.panel import AnswerPanel
from tui.widgets.timeline import Timeline

WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "again,"]
SPEC = "sim:fast"


def reference_wrap(line: str, width: int) -> list[str]:
    """The greedy word wrap the panels have always drawn, written out whole and naively."""
    rows: list[str] = []
    current, used = "", 0
    for word in re.findall(r"\S+\s*|\s+", line):
        w = cell_len(word)
        if used + w <= width:
            current, used = current + word, used + w
            continue
        bare = word.rstrip()
        if current and used + cell_len(bare) <= width:
            rows.append(current + bare)
            current, used = "", 0
            continue
        if current:
            rows.append(current.rstrip())
        pieces, piece, piece_w = [], "", 0
        for char in bare:
            if piece_w + cell_len(char) > width and piece:
                pieces.append(piece)
                piece, piece_w = "", 0
            piece, piece_w = piece + char, piece_w + cell_len(char)
        pieces = [*pieces, piece] if piece else pieces or [""]
        rows.extend(pieces[:-1])
        current, used = pieces[-1], cell_len(pieces[-1])
        if bare != word and used < width:
            current, used = current + " ", used + 1
    if current or not rows:
        rows.append(current)
    return rows


@pytest.mark.parametrize("seed", range(4))
def test_wrapping_a_line_piece_by_piece_gives_the_rows_of_wrapping_it_whole(seed: int) -> None:
    rng = random.Random(seed)
    pieces = ["a", "xyz", " ", "  ", "界", "é", "longwordlongword", "\u3000", "—", "x" * 30]
    for _ in range(1500):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 60)))
        width = rng.randint(1, 24)
        assert wrap(text, width) == reference_wrap(text, width), (text, width)
        lines = LineWrap(width)
        done = 0
        for cut in sorted(rng.randint(0, len(text)) for _ in range(rng.randint(1, 8))):
            shown = rng.randint(cut, len(text))  # text that may still change, shown meanwhile
            lines.extend(text[done:cut], text[cut:shown])
            done = cut
            assert lines.rows() == reference_wrap(text[:shown], width), (text[:shown], width)
        lines.extend(text[done:])
        assert lines.rows() == reference_wrap(text, width), (text, width)


@pytest.mark.parametrize("piece", ["xxxxxxx", "       ", "ab     ", "界界界a"])
def test_each_piece_of_a_line_of_any_shape_is_wrapped_with_at_most_a_row_before_it(
    piece: str,
) -> None:
    """No spaces at all (a word cut into rows), only spaces, wide characters: what a piece
    costs does not grow with the line."""
    lines = LineWrap(50)
    costs = []
    for _ in range(3000):
        before = lines.wrapped
        lines.extend(piece)
        costs.append(lines.wrapped - before)
    assert max(costs) <= 2 * (50 + 2 * len(piece)), max(costs)
    assert lines.rows() == reference_wrap(piece * 3000, 50)


def tokens(start: int, count: int) -> list[str]:
    return [" " + WORDS[k % len(WORDS)] + str(k % 7) for k in range(start, start + count)]


async def one_panel(pilot, app: ModelRaceApp) -> tuple[Result, AnswerPanel]:  # type: ignore[no-untyped-def]
    await pilot.pause(0.2)
    result = Result(SPEC)
    result.apply(Started(0.0))
    app.attach_runs([Run(mode="async", results=[result], concurrent=True, t0=0.0)])
    await pilot.pause(0.1)
    return result, app.panels[0]


def panel_rows(app: ModelRaceApp, panel: AnswerPanel) -> list[str]:
    region = panel.view.region
    lines = screen_lines(app)
    return [lines[y][region.x : region.right].rstrip() for y in range(region.y, region.bottom)]


async def test_a_poll_wraps_as_little_at_the_end_of_a_long_line_as_at_its_start() -> None:
    app = ModelRaceApp([SPEC], history=PromptHistory(None))
    async with app.run_test(size=(100, 30)) as pilot:
        result, panel = await one_panel(pilot, app)
        view = panel.view
        fed = 0

        def poll_with(count: int) -> int:
            """Stream `count` tokens and poll once (no await: the app's own timer waits)."""
            nonlocal fed
            before = view.wrapped_chars
            for piece in tokens(fed, count):
                result.apply(TextDelta(1.0, piece))
            fed += count
            panel.poll(2.0)
            return view.wrapped_chars - before

        poll_with(1000)
        early = [poll_with(7) for _ in range(30)]
        poll_with(20_000)
        late = [poll_with(7) for _ in range(30)]
        assert "\n" not in view.text and len(view.text) > 100_000
        # Re-wrapping the whole line would wrap ~6,000 characters a poll at first, ~110,000 late.
        assert max(late) <= 2 * sum(early) / len(early), (early, late)
        assert max(late) < 400

        await pilot.pause(0.3)
        want = [row.rstrip() for row in wrap(view.text, view.size.width)]
        seen = [row for row in panel_rows(app, panel) if row]
        # Following the answer, the view shows its last rows (blank ones below them).
        assert len(seen) > 5 and seen == want[-len(seen) :]


async def test_a_key_arriving_in_pieces_inside_a_long_line_never_reaches_the_screen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "Zq" + "".join(random.Random(7).choices("abcdefghijkmnopqrstuvwxyzABCDEF", k=150))
    monkeypatch.setenv("MODELRACE_TEST_SERVICE_TOKEN", secret)
    bearer = "Bearer " + "tok" * 10
    before, after = "".join(tokens(0, 3000)), "".join(tokens(3000, 50))
    text = before + " key " + secret + " and " + bearer + " then" + after
    app = ModelRaceApp([SPEC], history=PromptHistory(None))
    async with app.run_test(size=(100, 30)) as pilot:
        result, panel = await one_panel(pilot, app)
        at = 0
        # Small pieces from just before the key; the bearer token cut in two after "Bearer to".
        cut = text.index("Bearer") + 9
        for size in [len(before) - 40, *([3] * 70)]:
            result.apply(TextDelta(1.0, text[at : at + size]))
            at += size
            panel.poll(2.0)
        for size in [cut - at, 40, *([2] * 40)]:
            result.apply(TextDelta(1.0, text[at : at + size]))
            at += size
            panel.poll(2.0)
        result.apply(TextDelta(1.0, text[at:]))
        panel.poll(2.0)
        shown = panel.view.text
        assert shown == before + " key *** and *** then" + after
        await pilot.pause(0.3)
        on_screen = "".join("".join(panel_rows(app, panel)).split())
        assert "***and***then" in on_screen
        assert secret[:12] not in on_screen and "tok" * 4 not in on_screen


class TimelineOnly(App[None]):
    """The dashboard's timeline alone: nothing redraws it but the test's own polls."""

    CSS_PATH = Path(__file__).resolve().parent.parent / "tui" / "app.tcss"

    def __init__(self) -> None:
        super().__init__()
        self.timeline = Timeline(id="timeline")

    def compose(self) -> ComposeResult:
        yield self.timeline


def finished(source: str, start: float, end: float) -> Result:
    return Result(source, state=State.DONE, start=start, first_token=start + 0.1, end=end)


def race(models: int, streaming: int) -> list[Run]:
    """A finished sync run from 0 s and an async run from 100 s whose first `streaming`
    models are still streaming."""
    names = [f"sim:model-{m:02d}" for m in range(models)]
    sync = [finished(name, m * 1.0, m * 1.0 + 0.9) for m, name in enumerate(names)]
    async_ = [finished(name, 100.0, 100.5 + 0.05 * m) for m, name in enumerate(names)]
    for r in async_[:streaming]:
        r.state, r.end = State.STREAMING, None
    return [
        Run("sync", sync, False, t0=0.0, t_end=models * 1.0),
        Run("async", async_, True, t0=100.0),
    ]


def row_of(lines: list[str], name: str, after: str = "#2 async") -> str:
    """The screen row of model `name`'s bar below the header `after`."""
    start = next(i for i, line in enumerate(lines) if after in line)
    return next(line for line in lines[start:] if name in line)


async def test_the_timeline_redraws_only_the_rows_that_changed() -> None:
    app = TimelineOnly()
    async with app.run_test(size=(120, 50)) as pilot:
        timeline = app.timeline
        timeline.add_runs(race(6, streaming=1))
        timeline.poll(101.0)
        await pilot.pause(0.1)  # sized to its rows (a resize redraws on the real clock)
        timeline.poll(101.0)
        await pilot.pause(0.1)
        before, built = screen_lines(app), timeline.rows_built
        assert not timeline.compact and timeline.row_count() == 2 * 7 + 1

        timeline.poll(101.2)  # the streaming model's bar and its run's clock move on
        await pilot.pause(0.1)
        after = screen_lines(app)
        assert timeline.rows_built - built == 2, "the live bar and its run's header"
        assert row_of(before, "model-00") != row_of(after, "model-00")
        assert "running 1.2 s" in "\n".join(after)
        changed = [a for a, b in zip(before, after, strict=True) if a != b]
        assert len(changed) == 2, changed

        built = timeline.rows_built
        timeline.refresh()  # painted again whole (as when a dialog over it closes): no changes
        await pilot.pause(0.1)
        assert timeline.rows_built == built and screen_lines(app) == after

        built = timeline.rows_built
        timeline.poll(131.0)  # the run outgrows the axis: every bar is drawn on the new one
        await pilot.pause(0.1)
        lines = screen_lines(app)
        assert timeline.rows_built - built >= 12
        axis, old_axis = (next(line for line in x if " time " in line) for x in (lines, before))
        assert "40s" in axis and "40s" not in old_axis, (axis, old_axis)
        assert row_of(lines, "model-05") != row_of(after, "model-05")
        assert row_of(lines, "model-05", "#1 sync") != row_of(after, "model-05", "#1 sync")


async def test_the_timeline_draws_no_row_that_is_off_screen() -> None:
    app = TimelineOnly()
    async with app.run_test(size=(120, 40)) as pilot:
        timeline = app.timeline
        timeline.add_runs(race(60, streaming=60))
        timeline.poll(101.0)
        await pilot.pause(0.1)
        built = timeline.rows_built
        timeline.poll(101.1)  # every model's bar moves on
        await pilot.pause(0.1)
        lines = screen_lines(app)
        shown = timeline.size.height - 1  # below the axis
        assert timeline.compact and timeline.row_count() == 62 > 2 * shown
        assert any("model-00" in line for line in lines)
        assert not any("model-59" in line for line in lines), "the last models are below"
        assert 0 < timeline.rows_built - built <= shown
