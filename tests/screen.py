"""What a user sees: the app's own SVG screenshot read back as lines of text."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.pilot import Pilot

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


def toast_text(app: App[object]) -> str:
    """The notifications on screen, their wrapped lines joined again."""
    # A toast sits over the right edge of what is under it (a border): leave that off.
    parts = [
        line.rsplit("▌", 1)[1].rstrip(" ─│╮╯").strip() for line in screen_lines(app) if "▌" in line
    ]
    return "".join(parts)


def on_screen(app: App[object], *texts: str) -> bool:
    """Every text is on screen or in a notification; spacing and wrapping are ignored."""
    seen = "".join((screen_text(app) + toast_text(app)).split())
    return all("".join(text.split()) in seen for text in texts)


async def until(pilot: Pilot[Any], check: Callable[[], bool], timeout: float = 15.0) -> None:
    """Wait until `check` holds, as a user would wait for the screen; a timeout fails the
    test with the screen it was looking at."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time:\n" + screen_text(pilot.app))
        await pilot.pause(0.05)
