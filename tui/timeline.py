"""The race timeline: one bar per model per run on a shared time axis, redrawn on a timer.

Each run is drawn from its own start, so a sync run's staircase and an async run's stack line
up one above the other and their lengths compare directly. The axis row stays on top; the
newest runs stay in view at the bottom.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from providers.record import Result, Run, State, speedup
from tui.lineview import LineView
from tui.text import visible

# Explicit colours: theme-mapped ANSI names made "done" and "failed" look alike.
WAITING = Style(color="#d7af00")
LIVE = Style(color="#5fd75f")
FINAL = {
    State.DONE: Style(color="#5f87ff"),
    State.FAILED: Style(color="#ff5f5f"),
    State.CANCELLED: Style(color="#8a8a8a"),
}
DIM = Style(dim=True)
CRITICAL = Style(color="#ffaf00", bold=True)
BOLD = Style(bold=True)
KEEP_RUNS = 4


@dataclass(eq=False)
class Entry:
    number: int
    run: Run


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


def _fmt_ms(value: float | None) -> str:
    return "—" if value is None else f"{value * 1000:.0f} ms"


class Timeline(LineView):
    """Keeps the last few runs; `poll` rebuilds the rows only while something is live."""

    can_focus = False

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.entries: list[Entry] = []
        self._count = 0
        self._rows: list[Strip] = []
        self._axis = Strip([])
        self.row_keys: list[tuple[int, str] | None] = []  # (run number, model) per row
        self._dirty = True

    def add_runs(self, runs: list[Run]) -> None:
        for run in runs:
            self._count += 1
            self.entries.append(Entry(self._count, run))
        del self.entries[:-KEEP_RUNS]
        self._dirty = True

    def poll(self, now: float | None = None) -> bool:
        live = any(not e.run.over for e in self.entries)
        if not (live or self._dirty) or not self.size.width:
            return False
        self._dirty = live
        self._build(time.perf_counter() if now is None else now)
        self.refresh()
        return True

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        """Tall enough for every kept run (the stylesheet caps it): a run added is a layout
        change, a token is not."""
        return max(len(self._rows), 1) + 1

    def on_resize(self) -> None:
        self._dirty = True
        self.poll()

    # --- drawing ----------------------------------------------------------------------------

    def row_count(self) -> int:
        return len(self._rows)

    def row_strip(self, index: int, width: int, style: Style) -> Strip:
        return self._rows[index].apply_style(style)

    def top_row(self) -> int:
        return max(0, len(self._rows) - (self.size.height - 1) - self._back)

    def render_line(self, y: int) -> Strip:
        width, style = self.size.width, self._paint_style or self.rich_style
        if y == 0:
            return self._axis.apply_style(style).crop_extend(0, width, style)
        index = self.top_row() + y - 1
        if index >= len(self._rows):
            return Strip.blank(width, style)
        return self.row_strip(index, width, style).crop_extend(0, width, style)

    def plain_lines(self) -> list[str]:
        """The rows as plain text (for tests and exports)."""
        return [self._axis.text, *(row.text for row in self._rows)]

    def _build(self, now: float) -> None:
        width = self.size.width
        models = [_label(r) for e in self.entries for r in e.run.results]
        label_w = min(30, max([len(m) for m in models] + [10]) + 4)
        bar_w = max(10, width - label_w - 12)
        span = _nice_span(max([self._extent(e.run, now) for e in self.entries] + [0.0]))
        self._axis = self._axis_strip(label_w, bar_w, span)
        rows: list[Strip] = []
        keys: list[tuple[int, str] | None] = []
        for entry in self.entries:
            rows.append(self._header(entry, now))
            keys.append(None)
            # Sequentially every step decided the wall time: mark a path only when concurrent.
            path = entry.run.critical_path if entry.run.concurrent else []
            critical = set(path)
            for result in entry.run.results:
                on_path = result.label in critical
                rows.append(self._bar(entry.run, result, now, label_w, bar_w, span, on_path))
                keys.append((entry.number, result.source))
        if not self.entries:
            rows.append(Strip([Segment(" no runs yet: each run adds one bar per model", DIM)]))
            keys.append(None)
        # A cancelled run's wall time says nothing about speed: leave it out.
        # Only runs of the same models (or the same pipeline) as the newest one compare.
        kind = _kind(self.entries[-1].run) if self.entries else None
        comparable = [e.run for e in reversed(self.entries) if _kind(e.run) == kind]
        ratio = speedup([run for run in comparable if not run.cancelled])
        footer = [
            Segment(" ░", WAITING),
            Segment(" waiting  ", DIM),
            Segment("█", LIVE),
            Segment(" streaming  ", DIM),
            Segment("█", FINAL[State.DONE]),
            Segment(" done  ", DIM),
            Segment("█", FINAL[State.FAILED]),
            Segment(" failed  ", DIM),
            Segment("█", FINAL[State.CANCELLED]),
            Segment(" cancelled", DIM),
        ]
        if any(e.run.label for e in self.entries):
            footer += [Segment("  ★ critical path", CRITICAL)]
        if ratio is not None:
            footer += [Segment("    speedup sync ÷ async ", BOLD), Segment(f"{ratio:.2f}×", BOLD)]
        rows.append(Strip(footer))
        keys.append(None)
        if len(rows) != len(self._rows):
            self.refresh(layout=True)
        self._rows, self.row_keys = rows, keys

    @staticmethod
    def _extent(run: Run, now: float) -> float:
        if run.t0 is None:
            return 0.0
        return (run.t_end if run.t_end is not None else now) - run.t0

    @staticmethod
    def _axis_strip(label_w: int, bar_w: int, span: float) -> Strip:
        cells = [" "] * bar_w
        ticks = 5
        for k in range(ticks + 1):
            col = min(bar_w - 1, round(k * (bar_w - 1) / ticks))
            label = f"{k * span / ticks:g}s"
            if k == ticks:
                col = max(0, bar_w - len(label))
            for i, ch in enumerate(label):
                if col + i < bar_w:
                    cells[col + i] = ch
        return Strip([Segment(" time".ljust(label_w), BOLD), Segment("".join(cells), DIM)])

    def _header(self, entry: Entry, now: float) -> Strip:
        run = entry.run
        pipeline = run.label
        title = f" #{entry.number} {run.mode}" + (f" pipeline {pipeline}" if pipeline else "")
        if run.pool_size:
            title += f" (pool {run.pool_size})"
        if run.t0 is None:
            detail = "  preparing clients…"
        elif not run.over:
            detail = f"  running {now - run.t0:.1f} s"
        else:
            ideal = "ideal (critical path)" if pipeline and run.concurrent else "ideal"
            detail = (
                f"  wall {_fmt_s(run.wall_s)} · {ideal} {_fmt_s(run.ideal_s)}"
                f" · overhead {_fmt_ms(run.overhead_s)}"
            )
            if run.cancelled:
                detail += " · cancelled"
        return Strip([Segment(visible(title), BOLD), Segment(detail, DIM)])

    @staticmethod
    def _bar(
        run: Run,
        r: Result,
        now: float,
        label_w: int,
        bar_w: int,
        span: float,
        critical: bool = False,
    ) -> Strip:
        label = visible(_label(r))
        room = label_w - 4
        label = label if len(label) <= room else label[: room - 1] + "…"
        if critical:
            segments = [Segment(" ★ ", CRITICAL), Segment(label.ljust(room) + " ", CRITICAL)]
        else:
            segments = [Segment("   " + label.ljust(room) + " ")]
        t0 = run.t0
        if t0 is None or r.start is None:
            return Strip(segments)
        start = r.start - t0
        first = None if r.first_token is None else r.first_token - t0
        end = (r.end if r.end is not None else now) - t0
        tail_style = FINAL.get(r.state, LIVE)
        cell = span / bar_w
        glyphs: list[tuple[str, Style | None]] = []
        for i in range(bar_w):
            a, b = i * cell, (i + 1) * cell
            if b <= start or a > end:
                glyphs.append((" ", None))
            elif first is not None and b > first and a <= end and end >= first:
                glyphs.append(("█", tail_style))
            else:
                wait_style = WAITING if first is not None or not r.state.over else tail_style
                glyphs.append(("░", wait_style))
        merged: list[Segment] = []
        for ch, style in glyphs:
            if merged and merged[-1].style == style:
                merged[-1] = Segment(merged[-1].text + ch, style)
            else:
                merged.append(Segment(ch, style))
        while merged and merged[-1].text.strip() == "":
            merged.pop()
        mark = {State.FAILED: " ✗", State.CANCELLED: " ■"}.get(r.state, "")
        duration = f" {end - start:.2f}s{mark}"
        return Strip([*segments, *merged, Segment(duration, DIM)])
