"""One model's answer: plain text while it streams, Markdown once it is over, and a status line.

Streaming cost is what keeps 16 panels smooth: each poll wraps only the new text and the word
it continues (finished lines and rows are wrapped once and kept, also inside one long line),
and only rows that changed are repainted. Markdown is rendered once, at the end, by Rich in a
worker thread, and swapped in as ready-made strips.
"""

from __future__ import annotations

import asyncio
import io
import math
import time
from bisect import bisect_right
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Grid, Vertical
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip

from providers.environment import redact, redaction_settled, secret_values
from providers.pricing import format_usd
from providers.record import Result, State
from tui.text import LineWrap, visible, wrap
from tui.widgets.fields import Field, FieldLine, field
from tui.widgets.lineview import LineView

STATE_STYLE = {
    State.PREPARING: "dim",
    State.WAITING: "#d7af00",
    State.STREAMING: "#5fd75f",
    State.DONE: "bold #5f87ff",
    State.FAILED: "bold #ff5f5f",
    State.CANCELLED: "bold #8a8a8a",
}
STATE_ICON = {
    State.PREPARING: "…",
    State.WAITING: "◌",
    State.STREAMING: "●",
    State.DONE: "✓",
    State.FAILED: "✗",
    State.CANCELLED: "■",
}


T = TypeVar("T")
# One thread for every panel's rendering: Python work in a thread still takes the GIL, and 16
# panels' Markdown in the default pool's 6 threads left the loop a seventh of it at the end of
# a race; behind one thread it gets half.
_RENDERER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="modelrace-render")


async def off_loop(function: Callable[..., T], *args: object) -> T:
    """Run `function(*args)` in the panels' one rendering thread."""
    return await asyncio.get_running_loop().run_in_executor(_RENDERER, function, *args)


def markdown_strips(text: str, width: int) -> list[Strip]:
    """Render Markdown to strips with a private Console: safe to call from a thread, which
    also redacts (a 20,000-token answer takes tens of milliseconds: not on the loop)."""
    from rich.console import Console
    from rich.markdown import Markdown

    console = Console(
        width=max(1, width),
        file=io.StringIO(),
        color_system="truecolor",
        force_terminal=True,
        legacy_windows=False,
        markup=False,
        emoji=False,
        highlight=False,
    )
    options = console.options.update_width(max(1, width))
    markdown = Markdown(visible(redact(text)), hyperlinks=False)
    lines = console.render_lines(markdown, options, pad=False)
    return [Strip(line) for line in lines]


# Earlier turns up to this size are wrapped at once; longer ones in a thread.
EARLIER_INLINE_CHARS = 20_000
EARLIER_PIECE = 2_000


def earlier_rows(
    lines: Sequence[tuple[str, Style]], width: int, pause: bool = False
) -> tuple[list[str], list[int], list[Style]]:
    """Earlier turns as rows (text, never markup), with where each line's style starts; pure,
    so a thread may run it (`pause`: in a thread, yield the GIL between pieces)."""
    rows: list[str] = []
    starts: list[int] = []
    styles: list[Style] = []
    for text, style in lines:
        for line in visible(redact(text)).split("\n"):
            starts.append(len(rows))
            styles.append(style)
            if not pause or len(line) <= EARLIER_PIECE:
                rows.extend(wrap(line, width))
                continue
            # A long line a piece at a time, with a pause between pieces that lets the event
            # loop have the GIL (it waits up to 5 ms each time it asks for it otherwise).
            tail = LineWrap(width)
            for i in range(0, len(line), EARLIER_PIECE):
                tail.extend(line[i : i + EARLIER_PIECE])
                time.sleep(0.001)
            rows.extend(tail.rows())
    return rows, starts, styles


def _find_row(strips: list[Strip], text: str, guess: int) -> int:
    """The row that starts with the same words as `text`, nearest to `guess`; else `guess`.

    Markdown wraps and spaces an answer differently from the plain streaming view, so the
    same place is found by its words, not by its row number.
    """
    needle = text.strip()[:40]
    if len(needle) < 8:
        return guess
    found = [i for i, strip in enumerate(strips) if strip.text.strip().startswith(needle)]
    if not found:
        found = [i for i, strip in enumerate(strips) if needle[:20] in strip.text]
    return min(found, key=lambda i: abs(i - guess)) if found else guess


class StreamView(LineView):
    """The answer text; `feed` appends, `show_markdown` swaps in the final rendering."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._width = 0
        self._lines: list[str] = []  # finished logical lines (control bytes made visible)
        self._rows: list[str] = []  # wrapped rows of finished lines
        self._head: list[str] = []  # the growing line, up to what redaction can still change
        self._live = ""  # the rest of it: a key still arriving may turn it into ***
        self._tail: LineWrap | None = None  # the growing line's rows (None until sized)
        self._secrets: list[str] | None = None  # read once per answer, not once per poll
        self._wrapped = 0
        self._final: list[Strip] | None = None
        self._source = ""  # raw text given to show_markdown, kept for re-rendering on resize
        self.fed = 0  # chunks fed so far (set by the panel)
        # A conversation's earlier turns, above the answer: (text, style), then wrapped.
        self._earlier_text: list[tuple[str, Style]] = []
        # Their rows as plain strings, and where each line's style starts: not a tuple per
        # row, which the garbage collector would walk for every row of a long earlier answer.
        self._earlier: list[str] = []
        self._earlier_starts: list[int] = []
        self._earlier_styles: list[Style] = []
        self.earlier_pending = False  # long earlier turns waiting for the race's clock
        self.painted: list[tuple[float, int]] = []  # (when, chunks on screen), for benchmarks
        self.record_paints = False

    def clear(self) -> None:
        self._lines, self._rows, self._head, self._live = [], [], [], ""
        self._new_tail()
        self._secrets = None
        self._final, self._source = None, ""
        self.fed = 0
        self._anchor = None
        self.refresh()

    def set_earlier(self, lines: Sequence[tuple[str, Style]]) -> None:
        """Rows above the answer (earlier turns), kept until set again; text, never markup."""
        self._earlier_text = list(lines)
        self._show_earlier([], [], [])
        self._wrap_earlier(now=False)

    def _wrap_earlier(self, now: bool = True) -> None:
        """Long earlier answers are wrapped in a thread: 16 panels of 20,000 tokens held the
        loop ~0.4 s after Enter, before the next turn's clock could start. Set with a new
        turn, that waits for `wrap_pending_earlier` (the clock has started): a thread busy
        with Python work slows the loop's own start of the race."""
        width, lines = self._width, self._earlier_text
        self.earlier_pending = False
        if not width:
            self._show_earlier([], [], [])
        elif sum(len(text) for text, _ in lines) <= EARLIER_INLINE_CHARS:
            self._show_earlier(*earlier_rows(lines, width))
        elif now:
            self._wrap_earlier_in_thread(lines, width)
        else:
            self.earlier_pending = True

    def wrap_pending_earlier(self) -> None:
        if self.earlier_pending:
            self._wrap_earlier()

    @work(exclusive=True, group="earlier")
    async def _wrap_earlier_in_thread(self, lines: list[tuple[str, Style]], width: int) -> None:
        wrapped = await off_loop(earlier_rows, lines, width, True)
        if width == self._width and lines is self._earlier_text:
            self._show_earlier(*wrapped)

    def _show_earlier(self, rows: list[str], starts: list[int], styles: list[Style]) -> None:
        self._earlier, self._earlier_starts, self._earlier_styles = rows, starts, styles
        self.refresh()

    @property
    def text(self) -> str:
        """What the plain view holds (for tests)."""
        return "\n".join([*self._lines, "".join(self._head) + self._live])

    @property
    def wrapped_chars(self) -> int:
        """Characters wrapped so far: the work streaming costs, whatever the answer's shape."""
        return self._wrapped + (self._tail.wrapped if self._tail else 0)

    @property
    def rendered_markdown(self) -> bool:
        return self._final is not None

    def row_count(self) -> int:
        return len(self._earlier) + self._answer_rows()

    def _answer_rows(self) -> int:
        if self._final is not None:
            return len(self._final)
        return len(self._rows) + self._tail_count()

    def _tail_count(self) -> int:
        """Rows of the growing line: none while it is empty, as after a newline."""
        if self._tail is None or not (self._live or self._head):
            return 0
        return len(self._tail)

    def row_strip(self, index: int, width: int, style: Style) -> Strip:
        if index < len(self._earlier):
            own = self._earlier_styles[bisect_right(self._earlier_starts, index) - 1]
            return Strip([Segment(self._earlier[index], style + own)])
        index -= len(self._earlier)
        if self._final is not None:
            return self._final[index].apply_style(style)
        rows = self._rows
        text = rows[index] if index < len(rows) else self._tail_row(index - len(rows))
        return Strip([Segment(text, style)])

    def _tail_row(self, index: int) -> str:
        return self._tail.row(index) if self._tail else ""

    def render_lines(self, crop: Region) -> list[Strip]:
        if self.record_paints:
            self.painted.append((time.perf_counter(), self.fed))
        return super().render_lines(crop)

    def feed(self, text: str) -> None:
        """Append streamed text: each finished line is wrapped once, and of the growing line
        only the new text and the word it continues (so a poll costs the same at 50,000
        tokens on one line as at 50)."""
        if not text:
            return
        if self._secrets is None:
            self._secrets = secret_values()
        old_count = self.row_count()
        tail = self._tail
        first_changed = len(self._earlier) + len(self._rows) + (tail.settled if tail else 0)
        *done, live = visible(redact(self._live + text, self._secrets)).split("\n")
        if done:
            self._finish_line(done[0])
            for line in done[1:]:
                self._lines.append(line)
                if self._width:
                    self._rows.extend(wrap(line, self._width))
                    self._wrapped += len(line)
        settled = redaction_settled(live, self._secrets)
        self._live = live[settled:]
        if settled:
            self._head.append(live[:settled])
        if self._tail is not None:
            self._tail.extend(live[:settled], self._live)
        if self._final is None and self._width:
            self.rows_changed(first_changed, old_count)

    def _finish_line(self, end: str) -> None:
        self._lines.append("".join(self._head) + end)
        self._head, self._live = [], ""
        tail = self._tail
        if tail is not None:
            tail.extend(end)
            self._rows.extend(tail.rows())
        self._new_tail()

    def _new_tail(self) -> None:
        if self._tail is not None:
            self._wrapped += self._tail.wrapped
        self._tail = LineWrap(self._width) if self._width else None

    def show_markdown(self, text: str) -> None:
        self._source = text
        if self._width:
            self._render_markdown(text, self._width)

    @work(exclusive=True, group="markdown")
    async def _render_markdown(self, text: str, width: int) -> None:
        strips = await off_loop(markdown_strips, text, width)
        if width == self._width and text == self._source:
            # Keep the reader's place; one who was following the tail is shown the start.
            first = self._final is None
            above = len(self._earlier)
            count, top = self.row_count(), self.top_row()
            top_text = self.row_strip(top, width, Style()).text if top < count else ""
            self._final = strips
            if first and self.following:
                self.show_row(above)
            elif not self.following and top >= above:
                guess = round((top - above) * len(strips) / max(1, count - above))
                self.show_row(above + _find_row(strips, top_text, guess))
            self.refresh()

    def on_resize(self) -> None:
        width = self.size.width
        if width == self._width or width < 1:
            return
        self._width = width
        self._rows = [row for line in self._lines for row in wrap(line, width)]
        self._wrapped += sum(map(len, self._lines))
        self._new_tail()
        if self._tail is not None:
            self._tail.extend("".join(self._head), self._live)
        self._wrap_earlier()
        if self._source:
            self._render_markdown(self._source, width)
        self.refresh()


class AnswerPanel(Vertical):
    """A model's panel: title is the spec, body the answer, bottom line the status."""

    def __init__(self, spec: str, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="panel")
        self.spec = spec
        self.border_title = Text(visible(spec))
        # Arena: the panel's letter, and whether the model (name, speed, errors) is hidden.
        self.letter = ""
        self.hidden = False
        self.result: Result | None = None
        self.view = StreamView(classes="answer")
        self.status = FieldLine(classes="status")
        self.status.set_fields([field("idle", 0, "dim")])
        self._status_key: tuple[object, ...] = ()
        self._finished = False
        self.run_label = ""
        self.position = ""  # "3/15" when the panels are paged
        self.turn = 1  # the conversation turn shown

    def show_turn(self, turn: int, earlier: Sequence[tuple[str, Style]] = ()) -> None:
        """The conversation turn on show (in the title past the first) and, above the
        answer, the rows of its earlier turns (`conversation_rows`)."""
        self.turn = turn
        self._retitle()
        self.view.set_earlier(earlier)

    def _retitle(self) -> None:
        """Arena letter (alone while hidden), the model, and the turn past the first."""
        parts = [self.letter] if self.letter else []
        if not self.hidden:
            parts.append(self.spec)
        if self.turn > 1:
            parts.append(f"turn {self.turn}")
        self.border_title = Text(visible(" · ".join(parts)))

    def show_subtitle(self) -> None:
        parts = [part for part in (self.run_label, self.position) if part]
        self.border_subtitle = Text(" · ".join(parts)) if parts else None

    def compose(self) -> ComposeResult:
        yield self.view
        yield self.status

    def label(self, letter: str = "", *, hidden: bool = False) -> None:
        """Title the panel by its arena letter: the letter alone while `hidden` (the status
        line then says only the state: speed and error text could name the model)."""
        self.letter = letter
        changed = hidden != self.hidden
        self.hidden = hidden
        self._retitle()
        if changed and self.result is not None:
            self.bind(self.result, self.run_label)

    def bind(self, result: Result | None, run_label: str = "") -> None:
        """Show another result (a new run, or the next side of a `both` race)."""
        self.result = result
        self.run_label = run_label
        self.show_subtitle()
        self.view.clear()
        self._status_key = ()
        self._finished = False
        self.poll(time.perf_counter(), status=True)

    def poll(self, now: float, status: bool = True) -> bool:
        """Take whatever arrived since the last poll; True when something changed."""
        result = self.result
        if result is None or self._finished:
            return False
        count = len(result.chunks)
        changed = False
        if count > self.view.fed:
            self.view.feed("".join(result.chunks[self.view.fed : count]))
            self.view.fed = count
            changed = True
        over = result.state.over
        if status or over:
            self._update_status(result, now)
        if over and count == len(result.chunks):
            self._finished = True
            # The status line has room for a word, not an SDK's message: the body has.
            failure = result.error if result.state is State.FAILED else None
            if failure and self.hidden:
                failure = "failed (the error is shown after the vote)"
            if result.chunks:
                ending = f"\n\n---\n\n✗ {_plain_line(failure)}" if failure else ""
                self.view.show_markdown(result.text + ending)
            elif failure:
                self.view.feed(f"✗ {failure}")
        return changed

    def _update_status(self, result: Result, now: float) -> None:
        state = result.state
        tokens = result.output_tokens if result.chunks or state.over else None
        elapsed = None
        if result.start is not None:
            elapsed = (result.end if result.end is not None else now) - result.start
        key = (state, tokens, None if elapsed is None else round(elapsed, 1), result.error)
        if key == self._status_key:
            return
        self._status_key = key
        if self.hidden:
            head = Text(f"{STATE_ICON[state]} {state.value}", style=STATE_STYLE[state])
            self.status.set_fields([Field(head, 0)])
        else:
            self.status.set_fields(status_fields(result, now))


EARLIER = Style(dim=True)
EARLIER_HEAD = Style(dim=True, bold=True)
CURRENT_HEAD = Style(bold=True)


def conversation_rows(
    earlier: Sequence[tuple[int, str, str | None]], turn: int, prompt: str, note: str = ""
) -> list[tuple[str, Style]]:
    """A panel's earlier turns, dimmed, then the heading of the one on show.

    `earlier` is (turn, prompt, this model's answer: "" when it gave none, None when it was
    not in that turn). Nothing when this is a first turn with nothing to say.
    """
    rows: list[tuple[str, Style]] = []
    for number, asked, answer in earlier:
        if answer is None:
            continue
        rows.append((f"▸ turn {number} · you: {asked}", EARLIER_HEAD))
        rows.append((answer.strip() or "(no answer: not sent again)", EARLIER))
        rows.append(("", EARLIER))
    if note:
        rows.append((note, EARLIER))
    if rows or turn > 1:
        rows.append((f"▸ turn {turn} · you: {prompt}", CURRENT_HEAD))
        rows.append(("", CURRENT_HEAD))
    return rows


def _plain_line(text: str) -> str:
    """An error as one Markdown paragraph that reads as typed (no emphasis, no headings)."""
    return "".join("\\" + c if c in "\\`*_[]#<>|" else c for c in " ".join(text.split()))


def status_fields(result: Result, now: float) -> list[Field]:
    """`● done  TTFT 0.31 s  52 tok/s  120 tok  2.4 s  cost $0.00012`; narrow panels drop the
    least important first (the cost, shown once the request is over, goes first)."""
    state = result.state
    head = Text(f"{STATE_ICON[state]} {state.value}", style=STATE_STYLE[state])
    fields = [Field(head, 0)]
    if result.error and state is State.FAILED:
        fields.append(field(visible(result.error).replace("\n", " "), 6, "#ff5f5f"))
    if result.ttft is not None:
        fields.append(field(f"TTFT {result.ttft:.2f} s", 2))
    tps = result.tokens_per_s
    if tps is None and result.first_token is not None and state is State.STREAMING:
        span = now - result.first_token
        streamed = result.output_tokens or 0
        tps = (streamed - 1) / span if streamed > 1 and span > 0 else None
    if tps is not None:
        fields.append(field(f"{tps:.0f} tok/s", 4))
    tokens = result.output_tokens
    if tokens:
        fields.append(field(f"{'~' if result.tokens_estimated else ''}{tokens} tok", 5))
    if result.start is not None:
        end = result.end if result.end is not None else now
        fields.append(field(f"{end - result.start:.1f} s", 1))
    if result.status and not state.over and not result.chunks:
        fields.append(field(visible(result.status).replace("\n", " "), 3, "dim"))
    if state.over:
        fields.append(field(f"cost {format_usd(result.cost_usd)}", 7, "dim"))
    return fields


def status_text(result: Result, now: float) -> str:
    """The whole status line as plain text (for logs and tests)."""
    return "  ".join(f.text.plain for f in status_fields(result, now))


MIN_PANEL_WIDTH = 24
# Border, three rows of answer and the status line: less than this is no panel at all.
MIN_PANEL_HEIGHT = 6
MAX_COLUMNS = 4


def grid_columns(count: int) -> int:
    """Side by side up to four, then as square a grid as fits (16 → 4 × 4, 6 → 3 × 2)."""
    if count <= MAX_COLUMNS:
        return max(1, count)
    rows = math.ceil(count / MAX_COLUMNS)
    return math.ceil(count / rows)


class PanelGrid(Grid):
    """The panels, a page at a time: as many as fit at a readable size, the page that holds
    the selected one. Zoomed, only the selected panel."""

    class Paged(Message):
        """The panels on screen changed: (first, last, count), 1-based and inclusive."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.selected = 0
        self.zoomed = False
        self.page: tuple[int, int, int] = (0, 0, 0)

    @property
    def panels(self) -> list[AnswerPanel]:
        return list(self.query_children(AnswerPanel))

    def select(self, index: int) -> AnswerPanel | None:
        panels = self.panels
        if not panels:
            return None
        self.selected = index % len(panels)
        for i, panel in enumerate(panels):
            panel.set_class(i == self.selected, "-selected")
        self.layout_page()
        return panels[self.selected]

    def zoom(self, on: bool) -> None:
        self.zoomed = on
        self.layout_page()

    def on_resize(self) -> None:
        self.layout_page()

    def layout_page(self) -> None:
        panels = self.panels
        count = len(panels)
        if not count:
            self.page = (0, 0, 0)
            return
        width, height = self.size
        if self.zoomed:
            columns = rows = 1
        else:
            columns = min(grid_columns(count), max(1, width // MIN_PANEL_WIDTH) if width else 4)
            fit_rows = max(1, height // MIN_PANEL_HEIGHT) if height else 4
            rows = min(math.ceil(count / columns), fit_rows)
        size = columns * rows
        first = (self.selected // size) * size if not self.zoomed else self.selected
        last = min(count, first + size)
        paged = size < count
        for i, panel in enumerate(panels):
            panel.display = first <= i < last
            panel.position = f"{i + 1}/{count}" if paged else ""
            panel.show_subtitle()
        self.styles.grid_size_columns = columns
        self.styles.grid_size_rows = rows
        page = (first + 1, last, count)
        if page != self.page:
            self.page = page
            self.post_message(self.Paged())
