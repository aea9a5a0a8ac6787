"""What one timeline redraw costs while a race is live, with many models and four kept runs.

The dashboard redraws the timeline 7.5 times a second while any run is live. Here the real
dashboard (headless 200x60) holds four runs of N models (sync, async, sync, async; the newest
live), attached straight from records (no network: this measures the widget). One redraw is
the timeline's `poll` (what the timer calls) plus painting the rows it shows; reported as the
mean over many redraws, with the rows drawn per redraw where the widget counts them.

Three shapes: every model of the live run still streaming; all but one finished (the long
tail of a race); and every run's bars in the full layout, on a screen tall enough for all of
them (as the SVG export draws it), the live run streaming.

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


def make_run(models: int, index: int, streaming: int, base: float):  # type: ignore[no-untyped-def]
    """Run `index` of the four: the first `streaming` of its models have not finished."""
    from providers.events import Finished, Started, TextDelta
    from providers.record import Result, Run

    concurrent = bool(index % 2)
    results = []
    t = base
    for m in range(models):
        r = Result(f"sim:model-{m:03d},tokens={100 + m}")
        start = base + 0.01 * m if concurrent else t
        r.apply(Started(start))
        r.apply(TextDelta(start + 0.3 + 0.01 * (m % 7), "x"))
        if m >= streaming:
            r.apply(Finished(start + 1.0 + 0.05 * (m % 11)))
            t = r.end or t
        results.append(r)
    run = Run(mode="async" if concurrent else "sync", results=results, concurrent=concurrent)
    run.t0 = base
    if not streaming:
        run.t_end = max(r.end or 0.0 for r in results)
    return run


async def measure(models: int, streaming: int, tall: bool, redraws: int) -> dict[str, float]:
    from textual.app import App, ComposeResult
    from textual.geometry import Region

    from tui.app import ModelRaceApp
    from tui.history import PromptHistory
    from tui.widgets.timeline import Timeline

    class Tall(Timeline):
        def budget(self) -> int:
            return 1000

    class Whole(App[None]):
        def __init__(self) -> None:
            super().__init__()
            self.timeline = Tall()

        def compose(self) -> ComposeResult:
            yield self.timeline

    specs = [f"sim:model-{m:03d},tokens={100 + m}" for m in range(models)]
    app = Whole() if tall else ModelRaceApp(specs, history=PromptHistory(None))
    size = (SIZE[0], 2 + RUNS * (models + 1) + 2) if tall else SIZE
    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.2)
        now = time.perf_counter()
        runs = []
        for i in range(RUNS):
            base = now - 300 + 60 * i
            runs.append(make_run(models, i, streaming if i == RUNS - 1 else 0, base))
        timeline = app.timeline
        if tall:
            timeline.add_runs(runs)
        else:
            app.attach_runs(runs)
        timeline.poll(now)
        await pilot.pause(0.2)
        # What the screen shows of it: the compositor paints no more than that.
        region = Region(0, 0, timeline.size.width, min(timeline.size.height, size[1]))
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
        return {
            "rows": timeline.row_count(),
            "shown": region.height - 1,
            "compact": float(timeline.compact),
            "ms": total / redraws * 1000,
            "built": per,
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="32,64")
    parser.add_argument("--redraws", type=int, default=40)
    args = parser.parse_args()
    print(f"timeline, headless {SIZE[0]}x{SIZE[1]} (tall: as high as the rows), {RUNS} runs")
    print()
    print("| models × runs | layout | live run | rows (on screen) | ms per redraw | rows drawn |")
    print("|---|---|---|---|---|---|")
    for n in (int(s) for s in args.models.split(",") if s.strip()):
        for tall, streaming, what in (
            (False, n, "all streaming"),
            (False, 1, "one streaming"),
            (True, n, "all streaming"),
        ):
            r = asyncio.run(measure(n, streaming, tall, args.redraws))
            layout = "compact" if r["compact"] else "full"
            print(
                f"| {n} × {RUNS} | {layout}{' (tall)' if tall else ''} | {what} "
                f"| {r['rows']:.0f} ({r['shown']:.0f}) | {r['ms']:.2f} | {r['built']:.1f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
