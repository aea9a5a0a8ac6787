"""What a user sees: the app's own SVG screenshot read back as lines of text."""

from __future__ import annotations

import html
import re

from textual.app import App

_TEXT = re.compile(
    r'<text [^>]*x="([\d.]+)"[^>]*clip-path="url\(#[\w-]+-line-(\d+)\)"[^>]*>(.*?)</text>'
)
CELL = 12.2  # Rich's SVG export: 0.61 × its 20 px font per terminal cell


def screen_lines(app: App[object]) -> list[str]:
    """Every row of the screen as plain text, as drawn (toasts and modals included)."""
    rows: dict[int, dict[int, str]] = {}
    for x, line, content in _TEXT.findall(app.export_screenshot()):
        column = round(float(x) / CELL)
        cells = rows.setdefault(int(line), {})
        for offset, char in enumerate(html.unescape(content).replace("\xa0", " ")):
            cells[column + offset] = char
    width, height = app.size
    return [
        "".join(rows.get(y, {}).get(x, " ") for x in range(width)).rstrip() for y in range(height)
    ]


def screen_text(app: App[object]) -> str:
    return "\n".join(screen_lines(app))
