"""What the race engine itself costs: N simulated models of fixed, different latencies.

For each size and mode it prints wall time against two ideals: the requests' own measured
durations (sum for sync, longest for the concurrent modes) and the simulator's nominal
schedule (what the models would take with a zero-cost client), and the longest full (gen 2)
garbage collection seen during the cell. Run it with

    .venv/bin/python benchmarks/overhead.py [--sizes 2,4,8,16,64] [--modes sync,async] [--repeat 3]
        [--gc headless|default] [--processes 64,128,256] [--enter 32]

Each cell is the median of --repeat runs, with the worst overhead beside it. `--gc headless`
(the default) applies what `modelrace run` does (providers/heap.py); `--gc default` leaves
Python's collector as it is, for the comparison.

`--processes` (default 64,128,256; empty to skip) then compares whole processes, each size
--repeat times: `modelrace run --mode async --json` against a bare script (one AsyncOpenAI,
every stream gathered) on the same simulator. Launch to exit and peak RSS (the child's own,
from wait4) for both; client set-up is, for the bare script, building its AsyncOpenAI, and
for modelrace the engine's preparation (its `Race.run` from start to the clock's start, in a
child of its own); both after `import openai`, timed apart. Figures are median [min–max].

`--enter N` drives the dashboard (Textual pilot, headless) with N models and reports, for
several races in a row, the time from Enter to the race's clock start.

The simulator runs in its own process so its pacing is not disturbed by the engine.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from providers import Request, heap, make_adapter
from providers.environment import loopback_no_proxy
from providers.race import Mode, Race, default_pool_size, parse_mode
from providers.sim import start_sim_process

TOKENS, TPS = 20, 200
PROMPT = "Explain asyncio."
ROOT = Path(__file__).resolve().parents[1]

BARE = """
import asyncio, json, os, sys, time
t = time.perf_counter()
import openai
imported = time.perf_counter() - t
names = json.loads(sys.argv[1])

async def one(client, name):
    stream = await client.chat.completions.create(
        model=name, messages=[{"role": "user", "content": sys.argv[2]}], stream=True,
        stream_options={"include_usage": True},
    )
    text = []
    async for chunk in stream:
        for choice in chunk.choices:
            text.append(choice.delta.content or "")
    return "".join(text)

async def main():
    t = time.perf_counter()
    client = openai.AsyncOpenAI(base_url=os.environ["MODELRACE_SIM_URL"] + "/v1", api_key="sim")
    setup = time.perf_counter() - t
    answers = await asyncio.gather(*(one(client, n) for n in names))
    await client.close()
    assert all(answers)
    print(json.dumps({"import_s": imported, "setup_s": setup}))

asyncio.run(main())
"""


def specs(n: int) -> tuple[list[str], list[float]]:
    """Latencies spread over 0.10–0.50 s of time to first token, no jitter."""
    ttfts = [0.10 + 0.40 * i / max(1, n - 1) for i in range(n)]
    models = [
        f"sim:fast,ttft={t:.3f},tokens={TOKENS},tps={TPS},jitter=0,seed={i}"
        for i, t in enumerate(ttfts)
    ]
    nominal = [t + (TOKENS - 1) / TPS for t in ttfts]
    return models, nominal


async def measure(models: list[str], mode: str) -> tuple[float, float]:
    race = Race([make_adapter(m) for m in models], Request(PROMPT), parse_mode(mode))
    [run] = await race.run()
    failed = [r for r in run.results if not r.ok]
    if failed:
        raise SystemExit(f"{failed[0].source}: {failed[0].error}")
    return run.wall_s or 0.0, run.ideal_s or 0.0


class FullCollections:
    """The pauses of gen 2 collections, timed by the collector's own callbacks."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.pauses.append(time.perf_counter() - self._start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2,4,8,16,64")
    parser.add_argument("--modes", default="sync,async,threads,limit=4")
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell; the median is shown")
    parser.add_argument("--gc", choices=("headless", "default"), default="headless")
    parser.add_argument("--processes", default="64,128,256", help="sizes compared as processes")
    parser.add_argument("--enter", type=int, default=0, help="dashboard Enter → clock, N models")
    parser.add_argument("--child-setup", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    loopback_no_proxy()
    if args.child_setup:
        print(json.dumps(asyncio.run(_engine_setup(args.child_setup))))
        return
    if args.gc == "headless":
        heap.manage()
    with start_sim_process() as sim:
        os.environ["MODELRACE_SIM_URL"] = sim.url
        asyncio.run(measure(specs(2)[0], "async"))  # warm imports and the server
        if args.sizes:
            _in_process(args)
        if args.processes:
            for n in (int(s) for s in args.processes.split(",")):
                _processes(n, args.repeat)
        if args.enter:
            asyncio.run(_enter_to_clock(args.enter))


def _in_process(args: argparse.Namespace) -> None:
    collections = FullCollections()
    gc.callbacks.append(collections)
    header = f"{'models':>6}  {'mode':<8} {'wall s':>7} {'ideal s':>8} {'wall/ideal':>10} "
    header += f"{'overhead ms':>11} {'worst ms':>8} {'nominal s':>9} {'wall/nominal':>12} "
    header += f"{'gen2 n':>6} {'gen2 max ms':>11}"
    print(f"in process, gc: {args.gc}")
    print(header)
    for n in (int(s) for s in args.sizes.split(",")):
        models, nominal = specs(n)
        for mode in args.modes.split(","):
            collections.pauses.clear()
            samples = sorted(
                (asyncio.run(measure(models, mode)) for _ in range(args.repeat)),
                key=lambda s: s[0] - s[1],
            )
            wall, ideal = samples[len(samples) // 2]
            worst = samples[-1][0] - samples[-1][1]
            bound = _nominal_bound(nominal, parse_mode(mode))
            pauses = collections.pauses
            print(
                f"{n:>6}  {mode:<8} {wall:>7.3f} {ideal:>8.3f} {wall / ideal:>10.3f} "
                f"{(wall - ideal) * 1000:>11.1f} {worst * 1000:>8.1f} {bound:>9.3f} "
                f"{wall / bound:>12.3f} {len(pauses):>6} {max(pauses, default=0) * 1000:>11.1f}"
            )
    gc.callbacks.remove(collections)


async def _engine_setup(n: int) -> dict[str, float]:
    """In a child: the engine's preparation for n models, after `import openai`."""
    t = time.perf_counter()
    import openai  # noqa: F401

    imported = time.perf_counter() - t
    race = Race([make_adapter(m) for m in specs(n)[0]], Request(PROMPT), parse_mode("async"))
    start = time.perf_counter()
    [run] = await race.run()
    assert all(r.ok for r in run.results), [r.error for r in run.results if not r.ok][:1]
    return {"import_s": imported, "setup_s": (run.t0 or start) - start}


def _child(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Launch to exit (s), peak RSS (MB) and stdout of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:3]}… exited {proc.returncode}")
    return elapsed, usage.ru_maxrss / 1024, out


def _processes(n: int, repeat: int) -> None:
    models = specs(n)[0]
    names = [m.split(":", 1)[1] for m in models]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MODELRACE_NO_DOTENV": "1"}
    py = sys.executable
    modelrace = [py, "-m", "tui", "run", "--mode", "async", "--json", "--no-save"]
    for m in models:
        modelrace += ["-m", m]
    rows: dict[str, dict[str, list[float]]] = {"bare": {}, "modelrace": {}}
    for _ in range(repeat):
        wall, rss, out = _child([py, "-c", BARE, json.dumps(names), PROMPT], env)
        _add(rows["bare"], wall=wall, rss=rss, **json.loads(out))
        wall, rss, out = _child([*modelrace, PROMPT], env)
        doc = json.loads(out)
        assert all(r["ok"] for run in doc["runs"] for r in run["results"]), "a model failed"
        setup = json.loads(_child([py, __file__, "--child-setup", str(n)], env)[2])
        _add(rows["modelrace"], wall=wall, rss=rss, **setup)
    print(f"\n{n} models, async, {repeat} processes each: median [min–max]")
    print(f"{'':<10} {'launch→exit s':>22} {'peak RSS MB':>22} {'set-up s':>22} {'import s':>22}")
    for name, cells in rows.items():
        line = f"{name:<10}"
        for key in ("wall", "rss", "setup_s", "import_s"):
            line += f" {_spread(cells[key]):>22}"
        print(line)
    bare, ours = rows["bare"], rows["modelrace"]
    print(
        f"{'ratio':<10} {statistics.median(ours['wall']) / statistics.median(bare['wall']):>21.2f}×"
        f" {statistics.median(ours['rss']) / statistics.median(bare['rss']):>21.2f}×"
    )


def _add(cells: dict[str, list[float]], **values: float) -> None:
    for key, value in values.items():
        cells.setdefault(key, []).append(value)


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} [{min(values):.3f}–{max(values):.3f}]"


async def _enter_to_clock(n: int, idle: tuple[float, ...] = (0.3, 0.3, 0.3, 0.3, 6.0)) -> None:
    """The dashboard, headless: Enter pressed to the race's clock start, race after race.

    Each race is sent `idle` seconds after the previous one ended; the last waits longer than
    the pool trusts an idle connection (providers/clients.py), so it warms them again.
    """
    from tui.app import ModelRaceApp
    from tui.history import PromptHistory

    app = ModelRaceApp(specs(n)[0], history=PromptHistory(None), mode="async")
    times = []
    async with app.run_test(size=(200, 60)) as pilot:
        for i, wait in enumerate((0.0, *idle)):
            await asyncio.sleep(wait)
            app.prompt_box.load_text(f"{PROMPT} ({i})")
            before = app.race
            pressed = time.perf_counter()
            await pilot.press("enter")
            while app.race is before or app.race is None or app.race.runs[0].t0 is None:
                await asyncio.sleep(0.001)
            times.append(app.race.runs[0].t0 - pressed)
            while not app.race.runs[0].over:
                await pilot.pause(0.05)
    shown = ", ".join(f"{t * 1000:.0f}" for t in times)
    print(f"\ndashboard, {n} models, async: Enter → clock start, ms, race by race: {shown}")
    print(f"(first race builds the client; each later one sent {idle} s after the last ended)")


def _nominal_bound(nominal: list[float], mode: Mode) -> float:
    """The simulator's schedule laid out the way the mode runs it, with no overhead."""
    slots = {"sync": 1, "threads": default_pool_size(), "limit": mode.limit}.get(mode.name)
    if slots is None:
        return max(nominal)
    free = [0.0] * slots
    for d in nominal:
        free[free.index(min(free))] += d
    return max(free)


if __name__ == "__main__":
    main()
