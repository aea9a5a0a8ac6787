"""`export --format svg`: the timeline of stored runs as an SVG picture, drawn by the very
widget the dashboard shows (in a headless app with the dashboard's stylesheet), so the
picture matches the screen rather than imitating it."""

from __future__ import annotations

import asyncio
from html import escape
from pathlib import Path

from textual.app import App, ComposeResult

from providers.record import Run
from tui.widgets.timeline import KEEP_RUNS, Timeline

WIDTH = 100


class _Whole(Timeline):
    """The dashboard's timeline, given all the height it wants: a picture has no panels."""

    def budget(self) -> int:
        return 1000


class _TimelineApp(App[None]):
    CSS_PATH = Path(__file__).with_name("app.tcss")

    def __init__(self, runs: list[Run]) -> None:
        super().__init__()
        self.runs = runs
        self.timeline = _Whole(id="timeline")

    def compose(self) -> ComposeResult:
        yield self.timeline


def _height(runs: list[Run]) -> int:
    """Axis, a header and a bar per model for each run, the legend, the border above."""
    shown = runs[-KEEP_RUNS:]
    return 1 + sum(1 + len(run.results) for run in shown) + 1 + 1


async def _render(runs: list[Run], title: str, width: int) -> str:
    app = _TimelineApp(runs)
    async with app.run_test(size=(width, _height(runs))) as pilot:
        app.timeline.add_runs(runs)
        end = max((run.t_end or 0.0 for run in runs), default=0.0)
        app.timeline.poll(end)
        await pilot.pause()
        return app.export_screenshot(title=title)


def timeline_svg(runs: list[Run], title: str = "modelrace", width: int = WIDTH) -> str:
    """The SVG document; the full model specs are also in its <desc>, since a long label is
    cut on screen (and so in the picture)."""
    svg = asyncio.run(_render(runs, title, width))
    names = dict.fromkeys(r.label for run in runs for r in run.results)
    desc = f"<desc>{escape(title)}: timeline of {escape(', '.join(names))}</desc>"
    at = svg.index(">", svg.index("<svg")) + 1
    return svg[:at] + desc + svg[at:]
