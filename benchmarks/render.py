"""How smoothly the dashboard draws streaming answers: ours against stock MarkdownStream.

For each panel count, N panels are each fed 100 tokens/s of Markdown for a while, headless at
200x60. Tokens are appended straight into the engine's Result records from a feeder thread
(no network: this measures the UI). Each configuration runs in a fresh subprocess.

Measured: event-loop lag (a separate asyncio ticker every 20 ms: how late it wakes),
token-to-screen latency (from a token's append to the frame whose rendering includes it),
CPU seconds of the whole process over the window, and whether every token reached the screen.
Frames are turned into terminal output (`render_segments`) even though headless, so the cost
a real terminal would add on our side is counted.

    .venv/bin/python benchmarks/render.py [--seconds 10] [--sizes 4,8,16]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZE = (200, 60)
TICK_S = 0.02
TOKENS_PER_S = 100

MARKDOWN = """## Why async helps

When a program waits on the **network**, an event loop can run *other* requests in the
meantime. Three things matter:

1. the time to the first token,
2. the tokens per second after it, and
3. how many requests are in flight at once.

```python
async with asyncio.TaskGroup() as group:
    for model in models:
        group.create_task(ask(model, prompt))
```

> One blocking call inside a coroutine makes everything crawl.

| mode | wall | ideal |
|------|------|-------|
| sync | 3.2 s | 3.1 s |
| async | 1.1 s | 1.0 s |

- keep clients per event loop
- use `to_thread` for sync SDKs
- cap concurrency with a semaphore

"""


def tokens() -> list[str]:
    """The sample split into word-sized pieces (about four characters each), like a model's."""
    import re

    return re.findall(r"\s*\S+\s*|\s+", MARKDOWN)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.999999) - 1))]


class Feeder(threading.Thread):
    """Appends one token per panel every 10 ms, stamping each like the engine does."""

    def __init__(self, results: list, seconds: float) -> None:
        super().__init__(daemon=True)
        self.results, self.seconds = results, seconds
        self.pieces = tokens()
        self.done = threading.Event()

    def run(self) -> None:
        from providers.events import Started, TextDelta

        start = time.perf_counter()
        for r in self.results:
            r.apply(Started(start))
        step = 1 / TOKENS_PER_S
        k = 0
        while True:
            due = start + k * step
            now = time.perf_counter()
            if due - now > 0:
                time.sleep(due - now)
            if time.perf_counter() - start >= self.seconds:
                break
            piece = self.pieces[k % len(self.pieces)]
            for r in self.results:
                r.apply(TextDelta(time.perf_counter(), piece))
            k += 1
        self.done.set()


async def lag_ticker(samples: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(TICK_S)
        samples.append(max(0.0, time.perf_counter() - before - TICK_S))


def hook_frames(app, frames: list[float]) -> None:  # type: ignore[no-untyped-def]
    """Record each frame and render it to terminal output like a real driver would."""
    from textual._compositor import CompositorUpdate

    original = app._display

    def display(screen, renderable):  # type: ignore[no-untyped-def]
        if isinstance(renderable, CompositorUpdate):
            renderable.render_segments(app.console)
        frames.append(time.perf_counter())
        return original(screen, renderable)

    app._display = display


def latencies(results: list, shown: list[list[tuple[float, int]]]) -> tuple[list[float], bool]:
    """Per token: first time a frame showed at least k+1 chunks of its panel, minus its stamp."""
    out: list[float] = []
    complete = True
    for result, marks in zip(results, shown, strict=True):
        marks = sorted(marks)
        best = 0
        times: list[float] = []
        counts: list[int] = []
        for t, count in marks:
            if count > best:
                best = count
                times.append(t)
                counts.append(count)
        for k, stamp in enumerate(result.chunk_times):
            i = bisect.bisect_left(counts, k + 1)
            if i == len(counts):
                complete = False
                continue
            out.append(times[i] - stamp)
    return out, complete


async def bench_ours(n: int, seconds: float) -> dict[str, object]:
    from providers.events import Finished
    from providers.record import Result, Run
    from tui.app import ModelRaceApp
    from tui.history import PromptHistory

    specs = [f"sim:fast,tokens={100 + i}" for i in range(n)]
    app = ModelRaceApp(specs, history=PromptHistory(None))
    frames: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        hook_frames(app, frames)
        await pilot.pause(0.3)
        run = Run(mode="async", results=[Result(s) for s in specs], concurrent=True)
        run.t0 = time.perf_counter()
        app.attach_runs([run])
        for panel in app.panels:
            panel.view.record_paints = True
        await pilot.pause(0.2)
        stop, lag = asyncio.Event(), []
        ticker = asyncio.create_task(lag_ticker(lag, stop))
        feeder = Feeder(run.results, seconds)
        cpu0 = time.process_time()
        feeder.start()
        while not feeder.done.is_set():
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.4)
        cpu = time.process_time() - cpu0
        stop.set()
        await ticker
        shown = [panel.view.painted for panel in app.panels]
        lat, complete = latencies(run.results, shown)
        for r in run.results:
            r.apply(Finished(time.perf_counter()))
        run.t_end = time.perf_counter()
        await pilot.pause(0.3)
    return summary("ours", n, seconds, lag, lat, cpu, complete, len(frames))


async def bench_stream(n: int, seconds: float) -> dict[str, object]:
    from textual.app import App, ComposeResult
    from textual.containers import Grid
    from textual.widgets import Markdown

    from providers.record import Result

    class Baseline(App[None]):
        CSS = (
            "Grid { grid-size: 4; grid-rows: 1fr; } Markdown { height: 1fr; border: round $panel; }"
        )

        def compose(self) -> ComposeResult:
            with Grid():
                for _ in range(n):
                    yield Markdown()

    app = Baseline()
    frames: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        hook_frames(app, frames)
        await pilot.pause(0.3)
        results = [Result(f"m{i}") for i in range(n)]
        widgets = list(app.query(Markdown))
        ready: list[list[tuple[float, int]]] = [[] for _ in range(n)]
        offsets: list[list[int]] = [[] for _ in range(n)]
        appended = [0] * n

        def instrument(i: int, widget: Markdown) -> None:
            original = widget.append

            async def append(text: str):  # type: ignore[no-untyped-def]
                await original(text)
                appended[i] += len(text)
                ready[i].append((time.perf_counter(), bisect.bisect_right(offsets[i], appended[i])))

            widget.append = append  # type: ignore[method-assign]

        for i, w in enumerate(widgets):
            instrument(i, w)
        streams = [Markdown.get_stream(w) for w in widgets]
        stop, lag = asyncio.Event(), []
        ticker = asyncio.create_task(lag_ticker(lag, stop))
        fed = [0] * n
        total_chars = [0] * n

        async def pump() -> None:
            while True:
                for i, r in enumerate(results):
                    count = len(r.chunks)
                    if count > fed[i]:
                        new = r.chunks[fed[i] : count]
                        for piece in new:
                            total_chars[i] += len(piece)
                            offsets[i].append(total_chars[i])
                        fed[i] = count
                        await streams[i].write("".join(new))
                await asyncio.sleep(0.05)

        feeder = Feeder(results, seconds)
        cpu0 = time.process_time()
        pumping = asyncio.create_task(pump())
        feeder.start()
        while not feeder.done.is_set():
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.4)
        cpu = time.process_time() - cpu0
        stop.set()
        await ticker
        pumping.cancel()
        # A chunk is on screen in the first frame after the append that included it.
        shown = []
        for marks in ready:
            out = []
            for t, count in marks:
                i = bisect.bisect_right(frames, t)
                if i < len(frames):
                    out.append((frames[i], count))
            shown.append(out)
        lat, complete = latencies(results, shown)
        for s in streams:
            await s.stop()
    return summary("MarkdownStream", n, seconds, lag, lat, cpu, complete, len(frames))


def summary(
    name: str,
    n: int,
    seconds: float,
    lag: list[float],
    lat: list[float],
    cpu: float,
    complete: bool,
    frames: int,
) -> dict[str, object]:
    ms = 1000
    return {
        "widget": name,
        "panels": n,
        "lag_p50_ms": percentile(lag, 0.5) * ms,
        "lag_p99_ms": percentile(lag, 0.99) * ms,
        "lag_max_ms": max(lag) * ms if lag else float("nan"),
        "latency_p50_ms": percentile(lat, 0.5) * ms,
        "latency_p99_ms": percentile(lat, 0.99) * ms,
        "cpu_s": cpu,
        "cores": cpu / (seconds + 0.4),
        "all_shown": complete,
        "frames": frames,
    }


def run_one(kind: str, n: int, seconds: float) -> dict[str, object]:
    bench = bench_ours if kind == "ours" else bench_stream
    return asyncio.run(bench(n, seconds))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sizes", default="4,8,16")
    parser.add_argument("--only", choices=["ours", "stream"], default=None)
    parser.add_argument("--one", nargs=2, metavar=("KIND", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]), args.seconds)))
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    kinds = [args.only] if args.only else ["ours", "stream"]
    rows = []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for n in sizes:
        for kind in kinds:
            cmd = [sys.executable, __file__, "--seconds", str(args.seconds), "--one", kind, str(n)]
            out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
            if out.returncode != 0:
                print(out.stderr[-2000:], file=sys.stderr)
                return 1
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            if args.json:
                print(json.dumps(rows[-1]), flush=True)
    if not args.json:
        print_table(rows, args.seconds)
    return 0


def print_table(rows: list[dict[str, object]], seconds: float) -> None:
    print(f"{seconds:g} s at {TOKENS_PER_S} tok/s per panel, headless {SIZE[0]}x{SIZE[1]}")
    print()
    print(
        "| panels | widget | lag p50 / p99 / max (ms) | token→screen p50 / p99 (ms) "
        "| CPU s (cores) | frames | all tokens shown |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['panels']} | {r['widget']} "
            f"| {r['lag_p50_ms']:.1f} / {r['lag_p99_ms']:.1f} / {r['lag_max_ms']:.1f} "
            f"| {r['latency_p50_ms']:.0f} / {r['latency_p99_ms']:.0f} "
            f"| {r['cpu_s']:.2f} ({r['cores']:.2f}) | {r['frames']} "
            f"| {'yes' if r['all_shown'] else 'NO'} |"
        )


if __name__ == "__main__":
    sys.exit(main())
