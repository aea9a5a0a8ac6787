"""A one-line row of fields that drops whole fields, least important first, when it is narrow.

A status line cut mid-word ("10.1" for "10.1 s", "speedup sync ÷ async 2") says something
false; leaving a field out says nothing false.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widget import Widget


@dataclass(frozen=True, slots=True)
class Field:
    """One piece of a line; a lower `rank` is more important and dropped last."""

    text: Text
    rank: int = 0


def field(text: str | Text, rank: int = 0, style: str = "") -> Field:
    return Field(text if isinstance(text, Text) else Text(text, style=style), rank)


def fit(fields: list[Field], width: int, sep: str = "  ") -> Text:
    """The fields in their order, without the least important ones that do not fit.

    Only when the most important field alone is wider than the line is it cut, with an
    ellipsis.
    """
    kept = [f for f in fields if f.text.plain]
    while len(kept) > 1 and _width(kept, sep) > width:
        worst = max(range(len(kept)), key=lambda i: (kept[i].rank, i))
        del kept[worst]
    line = Text(no_wrap=True, overflow="ellipsis", end="")
    for i, f in enumerate(kept):
        if i:
            line.append(sep)
        line.append_text(f.text)
    if line.cell_len > width:
        line.truncate(max(0, width), overflow="ellipsis")
    return line


def _width(fields: list[Field], sep: str) -> int:
    return sum(f.text.cell_len for f in fields) + len(sep) * (len(fields) - 1)


class FieldLine(Widget):
    """A one-row widget showing `fit(fields, its width)`; repaints only when the fields change."""

    DEFAULT_CSS = "FieldLine { height: 1; }"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.fields: list[Field] = []

    def set_fields(self, fields: list[Field]) -> None:
        if fields != self.fields:
            self.fields = fields
            self.refresh()

    @property
    def plain(self) -> str:
        """The full line, every field (for exports and logs; the screen may show fewer)."""
        return "  ".join(f.text.plain for f in self.fields if f.text.plain)

    def render(self) -> Text:
        return fit(self.fields, self.size.width)
