"""What one poll of a panel costs while it streams an answer that is one long line.

A model that never writes a newline (a 50,000-token paragraph) is the worst case for a
plain-text view that wraps as it goes: if the panel re-wrapped the whole line on each poll,
every poll would cost more than the last. One panel of the real dashboard (headless 200x60)
is fed a single-line answer straight into its Result; at each size the answer has already
reached, it takes a batch of polls of seven tokens each (100 tok/s seen at the dashboard's
15 Hz) and reports the time of one poll (taking the new text, wrapping it, updating the
status line), of polling and painting every panel (`--panels N`, each with such an answer),
and the characters wrapped per poll.

    .venv/bin/python benchmarks/long_line.py [--sizes 1000,5000,10000,20000,50000] [--polls 60]
        [--panels 1]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZE = (200, 60)
PER_POLL = 7
WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "a",
    "lazy",
    "dog",
    "while",
    "streams",
    "keep",
    "arriving",
]


def token(k: int) -> str:
    return " " + WORDS[k % len(WORDS)]


async def measure(sizes: list[int], polls: int, panels: int) -> list[dict[str, float]]:
    from textual.geometry import Region

    from providers.events import Started, TextDelta
    from providers.record import Result, Run
    from tui.app import ModelRaceApp
    from tui.history import PromptHistory

    specs = [f"sim:fast,seed={i}" for i in range(panels)]
    app = ModelRaceApp(specs, history=PromptHistory(None))
    rows: list[dict[str, float]] = []
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.3)
        results = [Result(spec) for spec in specs]
        run = Run(mode="async", results=results, concurrent=True, t0=time.perf_counter())
        for result in results:
            result.apply(Started(time.perf_counter()))
        app.attach_runs([run])
        await pilot.pause(0.2)
        views = [panel.view for panel in app.panels]
        counter = getattr(views[0], "wrapped_chars", None)
        k = 0

        def stream(until: int) -> None:
            nonlocal k
            while k < until:
                for result in results:
                    result.apply(TextDelta(time.perf_counter(), token(k)))
                k += 1

        for size in sizes:
            stream(size)
            for panel in app.panels:
                panel.poll(time.perf_counter())
            await pilot.pause(0.05)
            chars = len(views[0].text)
            polls_s: list[float] = []
            ticks_s: list[float] = []
            wrapped0 = counter if counter is None else views[0].wrapped_chars
            regions = [Region(0, 0, view.size.width, view.size.height) for view in views]
            for _ in range(polls):
                stream(k + PER_POLL)
                t0 = time.perf_counter()
                for panel in app.panels:
                    panel.poll(t0)
                t1 = time.perf_counter()
                for view, region in zip(views, regions, strict=True):
                    view.render_lines(region)
                polls_s.append((t1 - t0) / panels)
                ticks_s.append(time.perf_counter() - t0)
            wrapped = (
                float("nan") if wrapped0 is None else (views[0].wrapped_chars - wrapped0) / polls
            )
            rows.append(
                {
                    "tokens": size,
                    "chars": chars,
                    "poll_ms": sum(polls_s) / polls * 1000,
                    "poll_p50_ms": statistics.median(polls_s) * 1000,
                    "tick_ms": statistics.median(ticks_s) * 1000,
                    "wrapped_per_poll": wrapped,
                }
            )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,5000,10000,20000,50000")
    parser.add_argument("--polls", type=int, default=60)
    parser.add_argument("--panels", type=int, default=1)
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(",") if s.strip())
    rows = asyncio.run(measure(sizes, args.polls, args.panels))
    print(
        f"{args.panels} panel(s), headless {SIZE[0]}x{SIZE[1]}, {PER_POLL} tokens per poll, "
        "each answer one line"
    )
    print()
    print(
        "| tokens on the line | chars | one panel's poll mean / median (ms) "
        "| every panel's poll + paint, median (ms) | chars wrapped per poll |"
    )
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['tokens']:,} | {r['chars']:,} | {r['poll_ms']:.3f} / {r['poll_p50_ms']:.3f} "
            f"| {r['tick_ms']:.3f} "
            f"| {r['wrapped_per_poll']:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
