"""A Line-API view that shows the bottom of a list of rows and repaints only what changed.

Why not ScrollView: its virtual size is a layout reactive, so every new row would trigger a
layout pass. Here the widget's size never depends on its content; it either follows the tail
or keeps the index of the row the reader left at its top (which stays put when rows are added
below or the widget changes height), and marks just the changed rows dirty.
"""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget


class LineView(Widget, can_focus=True):
    """Subclasses provide `row_count()` and `row_strip(index, width, style)`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "scroll_rows(1)", "Scroll up", show=False),
        Binding("down", "scroll_rows(-1)", "Scroll down", show=False),
        Binding("pageup", "scroll_page(1)", "Page up", show=False),
        Binding("pagedown", "scroll_page(-1)", "Page down", show=False),
        Binding("home", "scroll_rows(1000000)", "Top", show=False),
        Binding("end", "scroll_rows(-1000000)", "Bottom", show=False),
    ]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._anchor: int | None = None  # top row the reader chose; None follows the tail
        self._paint_style: Style | None = None

    # --- what subclasses provide --------------------------------------------------------

    def row_count(self) -> int:
        raise NotImplementedError

    def row_strip(self, index: int, width: int, style: Style) -> Strip:
        raise NotImplementedError

    # --- geometry -------------------------------------------------------------------------

    @property
    def following(self) -> bool:
        return self._anchor is None

    # Following the tail, the view jumps by this share of its height instead of one row at a
    # time, so most frames repaint a row or two rather than shifting the whole panel.
    jump_fraction = 0.25

    def top_row(self) -> int:
        return self._top_for(self.row_count())

    def render_lines(self, crop: Region) -> list[Strip]:
        # `rich_style` walks the ancestors; compute it once per paint, not once per row.
        self._paint_style = self.rich_style
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        style = self._paint_style or self.rich_style
        index = self.top_row() + y
        if index >= self.row_count():
            return Strip.blank(width, style)
        return self.row_strip(index, width, style).crop_extend(0, width, style)

    # --- change notification: the only way subclasses ask for paint -----------------------

    def rows_changed(self, first_changed: int, old_count: int) -> None:
        """Repaint after rows from `first_changed` on were replaced or added."""
        height = self.size.height
        if not height:
            return
        old_top = self._top_for(old_count)
        top = self.top_row()
        if top != old_top:
            self.refresh()
            return
        # Rows below the last one, before and after, were blank and stay blank.
        y0 = max(0, first_changed - top)
        y1 = min(height, max(old_count, self.row_count()) - top)
        if y0 < y1:
            self.refresh(Region(0, y0, self.size.width, y1 - y0))

    def _top_for(self, count: int) -> int:
        overflow = count - self.size.height
        if overflow <= 0:
            return 0
        if self._anchor is not None:
            return min(self._anchor, overflow)
        jump = max(1, int(self.size.height * self.jump_fraction))
        return -(-overflow // jump) * jump

    def show_row(self, index: int) -> None:
        """Keep row `index` at the top (as far as the rows allow), however the rows grow."""
        self._anchor = max(0, index)
        self.refresh()

    def follow(self) -> None:
        self._anchor = None
        self.refresh()

    def _scroll_by(self, rows: int) -> None:
        """Positive `rows` scrolls back (up); reaching the end follows the tail again."""
        limit = max(0, self.row_count() - self.size.height)
        old = self.top_row()
        top = min(max(0, old - rows), limit)
        if top == old:
            return
        self._anchor = None if top >= limit and rows < 0 else top
        self.refresh()

    def action_scroll_rows(self, rows: int) -> None:
        self._scroll_by(rows)

    def action_scroll_page(self, pages: int) -> None:
        self._scroll_by(pages * max(1, self.size.height - 1))

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self._scroll_by(3)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self._scroll_by(-3)
