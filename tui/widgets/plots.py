"""`bench --plot`: plotext charts, as text, for the terminal.

Colour only when stdout is a terminal, so a saved report carries no escape codes.
"""

from __future__ import annotations

import shutil
import sys
from typing import Any

import plotext as plt

from providers.bench.repeat import RepeatBench
from providers.bench.sweep import Sweep

HEIGHT = 16


def _figure(height: int = HEIGHT, width: int | None = None) -> Any:
    fig = plt.figure
    fig.clear()
    plt.terminal.limit(False, False)
    if width is None:
        width = min(shutil.get_terminal_size((100, 24)).columns, 120)
    fig.plot_size(width, height)
    return fig


def _text(fig: Any, color: bool | None = None) -> str:
    colorless = not sys.stdout.isatty() if color is None else not color
    return fig.build().string(colorless=colorless).rstrip("\n")


def sweep_charts(
    sweep: Sweep, *, width: int | None = None, height: int = HEIGHT, color: bool | None = None
) -> str:
    """Throughput and p99 TTFT against concurrency, one line per model; levels evenly
    spaced (1, 2, 4, 8… would crowd the left on a linear axis)."""
    charts = []
    for title, value in (
        ("output tokens/s against concurrency", lambda c: c.tokens_per_s),
        ("p99 TTFT (s) against concurrency", lambda c: c.ttft["p99"]),
    ):
        fig = _figure(height, width)
        for model in sweep.models:
            cells = [c for c in sweep.of(model) if value(c) is not None]
            if cells:
                xs = [sweep.levels.index(c.level) + 1 for c in cells]
                fig.draw(fig.signal(xs, [value(c) for c in cells]).label(model).lines())
        positions = list(range(1, len(sweep.levels) + 1))
        fig.ruler("x").ticks(positions, [str(level) for level in sweep.levels])
        fig.title(title)
        fig.label("concurrency", axis="x")
        charts.append(_text(fig, color))
    return "\n\n".join(charts)


def sweep_latency_chart(
    sweep: Sweep, *, width: int | None = None, color: bool | None = None
) -> str:
    """Each model's TTFT distribution at each level measured so far, as boxes."""
    names, values = [], []
    for model in sweep.models:
        for cell in sweep.of(model):
            ttfts = [s.ttft_s for s in cell.ok if s.ttft_s is not None]
            if ttfts:
                names.append(
                    f"{model} @{cell.level}" if len(sweep.models) > 1 else f"@{cell.level}"
                )
                values.append(ttfts)
    if not values:
        return "(no TTFT to plot yet)"
    fig = _figure(max(HEIGHT, 3 * len(names) + 6), width)
    fig.draw(fig.box(names, values, orientation="horizontal"))
    fig.title("TTFT (s) per level: quartile box, median, min to max")
    return _text(fig, color)


def ttft_chart(bench: RepeatBench, *, width: int | None = None, color: bool | None = None) -> str:
    """Each model's TTFT distribution as a box (quartiles, median, min to max)."""
    names, values = [], []
    for side in bench.sides:
        for model in bench.models:
            ttfts = [
                s.ttft_s
                for s in bench.samples
                if s.model == model and s.side == side and s.ok and s.ttft_s is not None
            ]
            if ttfts:
                names.append(f"{model} {side}" if len(bench.sides) > 1 else model)
                values.append(ttfts)
    if not values:
        return "(no TTFT to plot: no request answered)"
    fig = _figure(max(HEIGHT, 4 * len(names) + 4), width)
    fig.draw(fig.box(names, values, orientation="horizontal"))
    fig.title("TTFT (s) per model: box from first to third quartile, median, min to max")
    return _text(fig, color)
