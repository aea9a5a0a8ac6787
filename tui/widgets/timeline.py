"""The race timeline: one bar per model per run on a shared time axis, redrawn on a timer.

Each run is drawn from its own start, so a sync run's staircase and an async run's stack line
up one above the other and their lengths compare directly. The axis row stays on top; the
newest runs stay in view at the bottom.

When the full drawing does not fit (80×24 and smaller), the timeline is compact: only the
newest sync/async pair, one row per model, the sync bar in the upper half of each cell and the
async bar in the lower half, so the staircase and the stack are both in view.

Each redraw describes every row by what it depends on (a result's state and times, the axis,
the width, and the clock only while its bar still grows) and draws a row only when it is on
screen and that description changed: with 64 models × 4 runs most rows are finished or
scrolled away, and a tick redraws only the live bars in view.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from itertools import groupby
from operator import itemgetter

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from providers.record import Result, Run, State, no_speedup_reason, speedup
from tui.text import visible
from tui.widgets.fields import Field, field, fit
from tui.widgets.lineview import LineView

# Explicit colours: theme-mapped ANSI names made "done" and "failed" look alike.
WAITING = Style(color="#d7af00")
LIVE = Style(color="#5fd75f")
FINAL = {
    State.DONE: Style(color="#5f87ff"),
    State.FAILED: Style(color="#ff5f5f"),
    State.CANCELLED: Style(color="#8a8a8a"),
}
DIM = Style(dim=True)
# A blocking run's task that exists but waits for the loop another task holds.
BLOCKED = Style(color="#af5f5f")
STALL = Style(color="#ff5f5f")
SPARK = " ▁▂▃▄▅▆▇█"
# `--retries`: an attempt that failed and was tried again, and the backoff before the next.
RETRIED = Style(color="#ff875f")
BACKOFF = Style(color="#6c6c6c")
# Not amber: amber means waiting.
CRITICAL = Style(color="#d787ff", bold=True)
BOLD = Style(bold=True)
KEEP_RUNS = 4
# Share of the space above the status bar the timeline may take; panels keep the rest.
MAX_SHARE = 0.5
# A run this many times longer than the next longest is clipped, not allowed to squash the rest.
OUTLIER = 3.0
UPPER, LOWER, BOTH = "▀", "▄", "▀"


@dataclass(eq=False)
class Entry:
    number: int
    run: Run
    turn: int = 0  # its conversation turn; 0: not part of one


# A row as a redraw describes it: what it depends on, and how to draw it when it must be.
RowSpec = tuple[Hashable, Callable[[], Strip]]


def _result_key(run: Run, r: Result, now: float) -> tuple[object, ...]:
    """Everything a result's bar and time are drawn from; the clock only while the bar grows."""
    grows = (
        run.t0 is not None
        and r.end is None
        and (r.start is not None or (run.mode == "blocking" and not r.state.over))
    )
    return (
        run,
        r,
        run.t0,
        r.state,
        r.start,
        r.first_token,
        r.end,
        r.attempt_start,
        len(r.failed_attempts),
        r.error_kind,
        now if grows else None,
    )


def _lag_key(run: Run) -> tuple[float, int] | None:
    lag = run.loop_lag
    return None if lag is None else (lag.stalled_s, len(lag.stalls))


def _nice_span(seconds: float) -> float:
    """Round the axis up to a round number (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k)."""
    seconds = max(seconds, 0.5)
    exp = math.floor(math.log10(seconds))
    for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * 10**exp >= seconds * 0.999:
            return step * 10**exp
    return 10 ** (exp + 1)


def _fmt_s(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} s"


def _kind(run: Run) -> tuple[str, tuple[str, ...]]:
    return run.label, tuple(r.source for r in run.results)


def _label(result: Result) -> str:
    """A model's spec, or a pipeline step's name."""
    return result.label


def _stall_words(run: Run) -> str:
    lag, wall = run.loop_lag, run.wall_s
    if lag is None or wall is None:
        return ""
    return f"the loop was stalled {lag.stalled_s:.1f} s of {wall:.1f} s"


def _traced(run: Run) -> bool:
    """A blocking run, or one whose loop was held a tenth of its time, gets a lag trace."""
    lag, wall = run.loop_lag, run.wall_s
    if lag is None or not lag.stalls or not wall:
        return False
    return run.mode == "blocking" or lag.stalled_s >= 0.1 * wall


def _fmt_ms(value: float | None) -> str:
    return "—" if value is None else f"{value * 1000:.0f} ms"


class Timeline(LineView):
    """Keeps the last few runs; `poll` rebuilds the rows only while something is live."""

    can_focus = False

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.entries: list[Entry] = []
        self._count = 0
        self._specs: list[RowSpec] = []
        self._drawn: dict[Hashable, Strip] = {}  # rows drawn for the current specs, by key
        self._axis = Strip([])
        self._axis_key: Hashable = None
        self.row_keys: list[tuple[int, str] | None] = []  # (run number, model) per row
        self._dirty = True
        self.compact = False
        self.rows_built = 0  # rows drawn so far: a row is drawn again only when it changed

    def add_runs(self, runs: Sequence[Run], turn: int = 0) -> None:
        for run in runs:
            self._count += 1
            self.entries.append(Entry(self._count, run, turn))
        del self.entries[:-KEEP_RUNS]
        self._dirty = True

    def clear(self) -> None:
        """Forget every run (a stored race is shown alone, numbered from #1 as it was)."""
        self.entries.clear()
        self._count = 0
        self._dirty = True

    def number_of(self, run: Run) -> int:
        return next((e.number for e in self.entries if e.run is run), 0)

    def poll(self, now: float | None = None) -> bool:
        live = any(not e.run.over for e in self.entries)
        if not (live or self._dirty) or not self.size.width:
            return False
        self._dirty = live
        old_keys, old_top, old_axis = [key for key, _ in self._specs], self.top_row(), self._axis
        self._build(time.perf_counter() if now is None else now)
        self._repaint(old_keys, old_top, old_axis)
        return True

    def _repaint(self, old_keys: list[Hashable], old_top: int, old_axis: Strip) -> None:
        """Mark dirty only the rows on screen whose description changed."""
        top, width, height = self.top_row(), self.size.width, self.size.height
        if top != old_top or len(old_keys) != len(self._specs) or self._axis is not old_axis:
            self.refresh()
            return
        regions = [
            Region(0, y, width, 1)
            for y in range(1, height)
            if top + y - 1 < len(old_keys) and old_keys[top + y - 1] != self._specs[top + y - 1][0]
        ]
        if regions:
            self.refresh(*regions)

    def budget(self) -> int:
        """Rows the timeline may take: a share of the body, which does not depend on it."""
        parent = self.parent
        height = parent.size.height if isinstance(parent, Widget) else 0
        return int(height * MAX_SHARE) if height else 1000

    def on_resize(self) -> None:
        self._dirty = True
        self.poll()

    # --- what the comparison says -------------------------------------------------------------

    def comparable_runs(self) -> list[Run]:
        """Runs of the same models (or the same pipeline) as the newest, newest first."""
        if not self.entries:
            return []
        kind = _kind(self.entries[-1].run)
        return [e.run for e in reversed(self.entries) if _kind(e.run) == kind]

    def comparison(self) -> list[Field]:
        """`speedup 2.12×  sync 6.76 s  async 3.19 s` for the status bar (never cut there)."""
        runs = self.comparable_runs()
        if not runs:
            return []
        walls: dict[str, Run] = {}
        for run in runs:
            if run.mode in ("sync", "async") and run.mode not in walls and run.over:
                walls[run.mode] = run
        fields: list[Field] = []
        ratio = speedup(runs)
        if ratio is not None:
            fields.append(field(f"speedup {ratio:.2f}×", 0, "bold"))
        elif any(not run.over for run in runs[:2]):
            fields.append(field("speedup …", 0, "bold"))
        else:
            fields.append(field(f"speedup — ({no_speedup_reason(runs)})", 0, "bold"))
        for mode in ("sync", "async"):
            side = walls.get(mode)
            if side is not None and side.wall_s is not None:
                mark = " (cancelled)" if side.cancelled else ""
                fields.append(field(f"{mode} {side.wall_s:.2f} s{mark}", 1))
        return fields

    # --- drawing ----------------------------------------------------------------------------

    def row_count(self) -> int:
        return len(self._specs)

    def row_strip(self, index: int, width: int, style: Style) -> Strip:
        return self._row(index).apply_style(style)

    def _row(self, index: int) -> Strip:
        key, draw = self._specs[index]
        strip = self._drawn.get(key)
        if strip is None:
            strip = self._drawn[key] = draw()
            self.rows_built += 1
        return strip

    def top_row(self) -> int:
        overflow = max(0, len(self._specs) - (self.size.height - 1))
        if self._anchor is None:
            # Full, the newest run is at the bottom; compact, there is only the newest pair,
            # and its header and first models are what to see.
            return 0 if self.compact else overflow
        return min(self._anchor, overflow)

    def render_line(self, y: int) -> Strip:
        width, style = self.size.width, self._paint_style or self.rich_style
        if y == 0:
            return self._axis.apply_style(style).crop_extend(0, width, style)
        index = self.top_row() + y - 1
        if index >= len(self._specs):
            return Strip.blank(width, style)
        return self.row_strip(index, width, style).crop_extend(0, width, style)

    def plain_lines(self) -> list[str]:
        """The rows as plain text (for exports)."""
        return [self._axis.text, *(self._row(i).text for i in range(len(self._specs)))]

    def _build(self, now: float) -> None:
        width = self.size.width or 80
        full_rows = 2 + sum(1 + len(e.run.results) + _traced(e.run) for e in self.entries)
        pair = self._pair()
        self.compact = bool(self.entries) and full_rows > self.budget()
        shown = pair if self.compact else [e.run for e in self.entries]
        models = [_label(r) for run in shown for r in run.results]
        label_w = min(30, max([len(m) for m in models] + [10]) + 4, max(12, width // 3))
        tail_w = 14 if self.compact and len(pair) == 2 else 9
        bar_w = max(6, width - label_w - tail_w)
        span, clipped = _fit_span(
            [self._extent(run, now) for run in pair],
            [self._extent(run, now) for run in shown if run not in pair],
        )
        axis_key = (label_w, bar_w, span)
        if axis_key != self._axis_key:
            self._axis, self._axis_key = self._axis_strip(label_w, bar_w, span), axis_key
        if self.compact:
            rows, keys = self._compact_rows(pair, now, label_w, bar_w, span)
        else:
            rows, keys = self._full_rows(now, label_w, bar_w, span)
        rows.append(self._legend_spec(width, clipped))
        keys.append(None)
        drawn = self._drawn
        self._drawn = {key: drawn[key] for key, _ in rows if key in drawn}
        self._specs, self.row_keys = rows, keys
        # Sized here rather than by content height: a run added is a layout change, a token
        # is not, and the height is set in the same step as the rows it makes room for.
        height = min(len(rows) + 1, max(3, self.budget())) + self.styles.gutter.height
        if self.styles.height is None or self.styles.height.value != height:
            self.styles.height = height

    def _pair(self) -> list[Run]:
        """The newest run, with the one before it when the two are a sync/async comparison."""
        if not self.entries:
            return []
        runs = [e.run for e in self.entries[-2:]]
        if len(runs) == 2 and _kind(runs[0]) == _kind(runs[1]) and runs[0].mode != runs[1].mode:
            return runs
        return runs[-1:]

    def _full_rows(
        self, now: float, label_w: int, bar_w: int, span: float
    ) -> tuple[list[RowSpec], list[tuple[int, str] | None]]:
        rows: list[RowSpec] = []
        keys: list[tuple[int, str] | None] = []
        width = self.size.width or 80
        for entry in self.entries:
            run = entry.run
            rows.append((self._header_key(entry, now, width), partial(self._header, entry, now)))
            keys.append(None)
            # Sequentially every step decided the wall time: mark a path only when concurrent.
            path = run.critical_path if run.concurrent else []
            critical = set(path)
            for result in run.results:
                on_path = result.label in critical
                key = ("bar", label_w, bar_w, span, on_path, _result_key(run, result, now))
                draw = partial(self._bar, run, result, now, label_w, bar_w, span, on_path)
                rows.append((key, draw))
                keys.append((entry.number, result.source))
            if _traced(run):
                trace = ("trace", run, _lag_key(run), label_w, bar_w, span)
                rows.append((trace, partial(self._trace, run, label_w, bar_w, span)))
                keys.append(None)
        if not self.entries:
            rows.append((("empty",), _no_runs))
            keys.append(None)
        return rows, keys

    def _header_key(self, entry: Entry, now: float, width: int) -> Hashable:
        run = entry.run
        running = None if run.over or run.t0 is None else f"{now - run.t0:.1f}"
        # Once over, the wall, ideal and overhead come from the results' final times.
        ends = tuple((r.start, r.end, r.state) for r in run.results) if run.over else ()
        state = (run.t0, run.t_end, run.cancelled, _lag_key(run), running, ends)
        return ("head", entry.number, run, width, state)

    def _compact_rows(
        self, pair: list[Run], now: float, label_w: int, bar_w: int, span: float
    ) -> tuple[list[RowSpec], list[tuple[int, str] | None]]:
        entries = [e for e in self.entries if e.run in pair]
        marks = [UPPER, LOWER] if len(pair) == 2 else [""]
        heads: list[tuple[str, int, str, str, str]] = []
        for mark, entry in zip(marks, entries, strict=False):
            run = entry.run
            wall = _fmt_s(run.wall_s) if run.over else f"running {now - (run.t0 or now):.1f} s"
            stalled = ""
            if run.mode == "blocking" and run.loop_lag is not None:
                stalled = f" stalled {run.loop_lag.stalled_s:.1f} s"
            ending = " cancelled" if run.cancelled else ""
            heads.append((mark, entry.number, run.mode, f" {wall}{ending}", stalled))
        width = self.size.width or 80
        head = tuple(heads)
        rows: list[RowSpec] = [(("pair", width, head), partial(_pair_heads, head, width))]
        keys: list[tuple[int, str] | None] = [None]
        for index, result in enumerate(pair[-1].results):
            others = [run.results[index] for run in pair]
            key = (
                "overlay",
                label_w,
                bar_w,
                span,
                tuple(_result_key(run, r, now) for run, r in zip(pair, others, strict=True)),
            )
            draw = partial(self._overlay, pair, others, now, label_w, bar_w, span)
            rows.append((key, draw))
            keys.append((entries[-1].number, result.source))
        return rows, keys

    def _legend_spec(self, width: int, clipped: bool) -> RowSpec:
        """The legend's entries depend on what the runs hold: worked out each redraw (cheap),
        turned into a row only when they changed."""
        runs = [e.run for e in self.entries]
        shows = (
            self.compact,
            any(run.mode == "blocking" for run in runs),
            any(r.failed_attempts for run in runs for r in run.results),
            any(run.label for run in runs),
            clipped,
            speedup(self.comparable_runs()),
        )
        return ("legend", width, shows), partial(self._legend, width, *shows)

    @staticmethod
    def _legend(
        width: int,
        compact: bool,
        blocking: bool,
        retried: bool,
        pipeline: bool,
        clipped: bool,
        ratio: float | None,
    ) -> Strip:
        items = [
            (" ░" if not compact else " █", WAITING, " waiting"),
            ("█", LIVE, " streaming"),
            ("█", FINAL[State.DONE], " done"),
            ("█", FINAL[State.FAILED], " failed"),
            ("█", FINAL[State.CANCELLED], " cancelled"),
        ]
        fields = []
        for rank, (glyph, style, name) in enumerate(items):
            text = Text(glyph, style=style)
            text.append(name, style=DIM)
            fields.append(Field(text, rank))
        if blocking:
            text = Text("·", style=BLOCKED)
            text.append(" task waits for the loop", style=DIM)
            fields.append(Field(text, 1))
        if retried:
            text = Text("▒" if not compact else "█", style=RETRIED)
            text.append(" retried", style=DIM)
            fields.append(Field(text, 1))
        if pipeline:
            fields.append(Field(Text("★ critical path", style=CRITICAL), 1))
        if clipped:
            fields.append(Field(Text("» longer than the axis", style=DIM), 1))
        if ratio is not None:
            fields.append(Field(Text(f"speedup sync ÷ async {ratio:.2f}×", style=BOLD), 0))
        return _strip(fit(fields, width))

    @staticmethod
    def _extent(run: Run, now: float) -> float:
        if run.t0 is None:
            return 0.0
        return (run.t_end if run.t_end is not None else now) - run.t0

    @staticmethod
    def _axis_strip(label_w: int, bar_w: int, span: float) -> Strip:
        cells = [" "] * bar_w
        ticks = _tick_count(bar_w, span)
        for k in range(ticks + 1):
            label = f"{k * span / ticks:g}s"
            col = round(k * bar_w / ticks)
            col = min(col, bar_w - len(label)) if k else 0
            if col < 0 or any(c != " " for c in cells[max(0, col - 1) : col + len(label)]):
                continue
            cells[col : col + len(label)] = label
        return Strip([Segment(" time".ljust(label_w), BOLD), Segment("".join(cells), DIM)])

    def _header(self, entry: Entry, now: float) -> Strip:
        run = entry.run
        pipeline = run.label
        title = f" #{entry.number} {run.mode}" + (f" pipeline {pipeline}" if pipeline else "")
        if entry.turn and any(e.turn > 1 for e in self.entries):
            title += f" · turn {entry.turn}"
        if run.pool_size:
            title += f" (pool {run.pool_size})"
        stall = _stall_words(run) if run.mode == "blocking" and run.over else ""
        fields = [Field(Text(visible(title) + (":" if stall else ""), style=BOLD), 0)]
        if stall:
            fields.append(field(stall + " ·", 1, "bold #ff5f5f"))
        if run.t0 is None:
            fields.append(field("preparing clients…", 1, "dim"))
        elif not run.over:
            fields.append(field(f"running {now - run.t0:.1f} s", 1, "dim"))
        else:
            ideal = "ideal (critical path)" if pipeline and run.concurrent else "ideal"
            fields.append(field(f"wall {_fmt_s(run.wall_s)}", 1, "dim"))
            fields.append(field(f"· {ideal} {_fmt_s(run.ideal_s)}", 3, "dim"))
            fields.append(field(f"· overhead {_fmt_ms(run.overhead_s)}", 4, "dim"))
            if run.cancelled:
                fields.append(field("· cancelled", 2, "dim"))
        return _strip(fit(fields, self.size.width or 80, " "))

    @staticmethod
    def _cells(run: Run, r: Result, now: float, bar_w: int, span: float) -> list[Style | None]:
        """Per cell of the bar: None (empty), or the style of what the model was doing."""
        t0 = run.t0
        if t0 is not None and r.start is None and run.mode == "blocking" and not r.state.over:
            r_start = now  # its task exists; its request has not begun: the loop is held
        elif t0 is None or r.start is None:
            return []
        else:
            r_start = r.start
        tried = [(a.start - t0, a.end - t0) for a in r.failed_attempts]
        start = r_start - t0
        if tried and r.attempt_start is not None:
            # The attempt under way (earlier ones drawn below); none when it ended waiting.
            waited = r.attempts == len(tried)
            start = tried[-1][1] if waited else r.attempt_start - t0
        first = None if r.first_token is None else r.first_token - t0
        end = (r.end if r.end is not None else now) - t0
        tail_style = FINAL.get(r.state, LIVE)
        cell = span / bar_w
        # Blocking: every task was created at the start; its request began only when the
        # loop came back to it.
        before = BLOCKED if run.mode == "blocking" else None
        cells: list[Style | None] = []
        for i in range(bar_w):
            a, b = i * cell, (i + 1) * cell
            if b <= start and tried and b > tried[0][0]:
                failed = any(b > lo and a <= hi for lo, hi in tried)
                cells.append(RETRIED if failed else BACKOFF)
            elif b <= start:
                cells.append(before)
            elif a > end:
                cells.append(None)
            elif first is not None and b > first and a <= end and end >= first:
                cells.append(tail_style)
            else:
                cells.append(WAITING if first is not None or not r.state.over else tail_style)
        while cells and cells[-1] is None:
            cells.pop()
        return cells

    @staticmethod
    def _duration(run: Run, r: Result, now: float, span: float) -> str:
        if run.t0 is None or r.start is None:
            return ""
        end = (r.end if r.end is not None else now) - run.t0
        mark = {State.FAILED: "✗", State.CANCELLED: "■"}.get(r.state, "")
        if r.failed_attempts:
            mark += f"↻{r.attempts}"
        clip = "»" if end > span * 1.001 else ""
        return f"{clip}{end - (r.start - run.t0):.2f}s{mark}"

    @staticmethod
    def _label_segments(r: Result, label_w: int, critical: bool = False) -> list[Segment]:
        label = visible(_label(r))
        room = label_w - 4
        label = label if len(label) <= room else label[: room - 1] + "…"
        if critical:
            return [Segment(" ★ ", CRITICAL), Segment(label.ljust(room) + " ", CRITICAL)]
        return [Segment("   " + label.ljust(room) + " ")]

    @classmethod
    def _bar(
        cls,
        run: Run,
        r: Result,
        now: float,
        label_w: int,
        bar_w: int,
        span: float,
        critical: bool = False,
    ) -> Strip:
        segments = cls._label_segments(r, label_w, critical)
        cells = cls._cells(run, r, now, bar_w, span)
        if not cells and (run.t0 is None or r.start is None):
            return Strip(segments)
        for style, same in groupby(cells):
            glyph = " " if style is None else _GLYPHS.get(style, "█")
            segments.append(Segment(glyph * sum(1 for _ in same), style))
        return Strip([*segments, Segment(" " + cls._duration(run, r, now, span), DIM)])

    @staticmethod
    def _trace(run: Run, label_w: int, bar_w: int, span: float) -> Strip:
        """`loop stalled ▁▁███████████` under a run: how much of each cell the loop was held."""
        lag, t0 = run.loop_lag, run.t0
        assert lag is not None and t0 is not None
        stalls = [(a - t0, b - t0) for a, b in lag.stalls]
        cell = span / bar_w
        chars = []
        for i in range(bar_w):
            a, b = i * cell, (i + 1) * cell
            held = sum(max(0.0, min(b, y) - max(a, x)) for x, y in stalls) / cell
            chars.append(SPARK[min(8, round(held * 8))])
        trace = "".join(chars).rstrip()
        room = label_w - 4
        label = "   " + ("loop stalled" if room >= 12 else "stalled"[:room]).ljust(room) + " "
        return Strip(
            [
                Segment(label, STALL),
                Segment(trace, STALL),
                Segment(f" {lag.stalled_s:.2f}s", DIM),
            ]
        )

    @classmethod
    def _overlay(
        cls,
        runs: list[Run],
        results: list[Result],
        now: float,
        label_w: int,
        bar_w: int,
        span: float,
    ) -> Strip:
        """Two runs' bars for one model in one row: the first in the upper half of each cell."""
        if len(runs) == 1:
            return cls._bar(runs[0], results[0], now, label_w, bar_w, span)
        segments = cls._label_segments(results[-1], label_w)
        upper = cls._cells(runs[0], results[0], now, bar_w, span)
        lower = cls._cells(runs[1], results[1], now, bar_w, span)
        glyphs: list[tuple[str, Style | None]] = []
        for i in range(max(len(upper), len(lower))):
            top = upper[i] if i < len(upper) else None
            bottom = lower[i] if i < len(lower) else None
            if top is None and bottom is None:
                glyphs.append((" ", None))
            elif bottom is None:
                glyphs.append((UPPER, top))
            elif top is None:
                glyphs.append((LOWER, bottom))
            else:
                glyphs.append((BOTH, _both(top, bottom)))
        times = [cls._duration(run, r, now, span) for run, r in zip(runs, results, strict=True)]
        tail = " " + "/".join(t or "—" for t in times)
        return Strip([*segments, *_merge(glyphs), Segment(tail, DIM)])


_GLYPHS = {WAITING: "░", BLOCKED: "·", RETRIED: "▒", BACKOFF: "·"}


def _no_runs() -> Strip:
    return Strip([Segment(" no runs yet: each run adds one bar per model", DIM)])


def _pair_heads(heads: tuple[tuple[str, int, str, str, str], ...], width: int) -> Strip:
    """The compact layout's first row: which run is the upper half of a cell, which the lower."""
    fields: list[Field] = []
    for mark, number, mode, wall, stalled in heads:
        text = Text(f"{mark} " if mark else " ", style=BOLD)
        text.append(f"#{number} {mode}", style=BOLD)
        text.append(wall, style=DIM)
        if stalled:
            text.append(stalled, style=STALL)
        fields.append(Field(text, 0))
    return _strip(fit(fields, width, "   "))


_CONSOLE: Console | None = None


def _strip(text: Text) -> Strip:
    global _CONSOLE
    if _CONSOLE is None:
        _CONSOLE = Console(file=io.StringIO(), width=1000, color_system="truecolor")
    return Strip(list(text.render(_CONSOLE, end="")))


def _merge(glyphs: list[tuple[str, Style | None]]) -> list[Segment]:
    """One segment per run of cells in the same style."""
    return [
        Segment("".join(ch for ch, _ in same), style)
        for style, same in groupby(glyphs, key=itemgetter(1))
    ]


@lru_cache(maxsize=64)
def _both(top: Style, bottom: Style) -> Style:
    """A cell holding both runs' bars: the upper one's colour over the lower one's."""
    return Style(color=top.color, bgcolor=bottom.color)


def _fit_span(newest: list[float], older: list[float]) -> tuple[float, bool]:
    """The axis for the newest comparison; an older run far longer than it (a stall cancelled
    at 40 s) is clipped and marked rather than allowed to squash the runs after it."""
    base = max(newest, default=0.0)
    kept = [e for e in older if base <= 0 or e <= OUTLIER * base]
    return _nice_span(max([base, *kept])), len(kept) < len(older)


def _tick_count(bar_w: int, span: float) -> int:
    """As many ticks (up to 5) as leave room for their labels and land on round numbers."""
    widest = len(f"{span:g}s") + 2
    for count in (5, 4, 2, 1):
        step = span / count
        if bar_w // count >= widest and abs(step * 100 - round(step * 100)) < 1e-6:
            return count
    return 1
