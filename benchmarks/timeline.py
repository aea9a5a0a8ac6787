"""What one timeline redraw costs while a race is live, with many models and four kept runs.

The dashboard redraws the timeline 7.5 times a second while any run is live. Three finished
runs and a live fourth (every model streaming) are shown, each of N models; the timeline is
given the whole height of a headless 200x60 screen in its full layout (every run's bars, as a
tall terminal or the SVG export shows them), so most rows are off screen. One redraw is a
`poll` (what the timer calls) plus painting every row on screen; reported as the mean over
many redraws, with the rows built per redraw where the widget counts them.

    .venv/bin/python benchmarks/timeline.py [--models 32,64] [--redraws 40]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZE = (200, 60)
RUNS = 4


def make_run(models: int, index: int, live: bool, base: float):  # type: ignore[no-untyped-def]
    from providers.events import Finished, Started, TextDelta
    from providers.record import Result, Run

    t0 = base
    results = []
    for m in range(models):
        r = Result(f"sim:model-{m:03d},tokens={100 + m}")
        start = t0 + 0.01 * m if index % 2 else t0 + 0.2 * m
        r.apply(Started(start))
        r.apply(TextDelta(start + 0.3 + 0.01 * (m % 7), "x"))
        if not live:
            r.apply(Finished(start + 1.0 + 0.05 * (m % 11)))
        results.append(r)
    run = Run(mode="async" if index % 2 else "sync", results=results, concurrent=bool(index % 2))
    run.t0 = t0
    if not live:
        run.t_end = max(r.end or 0.0 for r in results)
    return run


async def measure(models: int, redraws: int) -> dict[str, float]:
    from textual.app import App, ComposeResult
    from textual.geometry import Region

    from tui.widgets.timeline import Timeline

    class Tall(Timeline):
        def budget(self) -> int:
            return 1000

    class One(App[None]):
        CSS = "Tall { height: 1fr; }"

        def __init__(self) -> None:
            super().__init__()
            self.timeline = Tall()

        def compose(self) -> ComposeResult:
            yield self.timeline

    app = One()
    async with app.run_test(size=SIZE) as pilot:
        now = time.perf_counter()
        runs = [make_run(models, i, i == RUNS - 1, now - 40 + 10 * i) for i in range(RUNS)]
        timeline = app.timeline
        timeline.add_runs(runs)
        timeline.poll(now)
        await pilot.pause(0.1)
        region = Region(0, 0, timeline.size.width, timeline.size.height)
        built0 = getattr(timeline, "rows_built", None)
        total = 0.0
        for k in range(redraws):
            t = now + 0.133 * (k + 1)
            started = time.perf_counter()
            timeline.poll(t)
            timeline.render_lines(region)
            total += time.perf_counter() - started
        built = getattr(timeline, "rows_built", None)
        per = float("nan") if built is None or built0 is None else (built - built0) / redraws
        rows = timeline.row_count()
    return {"models": models, "rows": rows, "ms": total / redraws * 1000, "built": per}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="32,64")
    parser.add_argument("--redraws", type=int, default=40)
    args = parser.parse_args()
    print(f"timeline, headless {SIZE[0]}x{SIZE[1]}, {RUNS} runs (the newest live), full layout")
    print()
    print("| models × runs | rows | ms per redraw | rows built per redraw |")
    print("|---|---|---|---|")
    for n in (int(s) for s in args.models.split(",") if s.strip()):
        r = asyncio.run(measure(n, args.redraws))
        print(f"| {n} × {RUNS} | {r['rows']:.0f} | {r['ms']:.2f} | {r['built']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
