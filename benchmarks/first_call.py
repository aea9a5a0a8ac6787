"""What the first request of a process costs, per provider, sync and async.

Each cell is a fresh Python process that prepares one adapter's client the way a race does
(outside any clock), then makes five calls in a row to the simulator and reports, for each,
measured time to first token minus the configured one. Call 1 against call 5 is what a cold
`modelrace run` pays once per process inside its clock. Run it with

    .venv/bin/python benchmarks/first_call.py [--repeat 5] [--providers openai,anthropic]

The simulator runs in its own process so its pacing is not disturbed by the client.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from providers.catalog import pointed_at

ROOT = Path(__file__).resolve().parents[1]
PROVIDERS = ("openai", "anthropic", "gemini", "ollama")
WAYS = ("sync", "async")
TTFT = 0.05
MODEL = f"fast,ttft={TTFT},tps=1000,tokens=5,jitter=0"
CALLS = 5


def child(provider: str, way: str) -> None:
    """One fresh process: prepare, then CALLS calls; prints one JSON line."""
    from providers import Request, TextDelta, make_adapter

    adapter = make_adapter(f"{provider}:{MODEL}")
    request = Request("Explain asyncio.")
    excess: list[float] = []

    def note(events: list) -> None:
        first = next(e for e in events if isinstance(e, TextDelta))
        excess.append((first.t - events[0].t - TTFT) * 1000)

    if way == "sync":
        t = time.perf_counter()
        adapter.prepare_sync()
        prepare_ms = (time.perf_counter() - t) * 1000
        for _ in range(CALLS):
            note(list(adapter.stream_sync(request)))
    else:

        async def main() -> float:
            t = time.perf_counter()
            await adapter.ready_async()
            spent = (time.perf_counter() - t) * 1000
            for _ in range(CALLS):
                note([e async for e in adapter.stream_async(request)])
            await adapter.aclose()
            return spent

        prepare_ms = asyncio.run(main())
    print(json.dumps({"prepare_ms": prepare_ms, "excess_ms": excess}))


def measure(provider: str, way: str, env: dict[str, str]) -> dict:
    cmd = [sys.executable, __file__, "--child", provider, way]
    out = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def sim_env(url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        pointed_at(url),
        MODELRACE_SIM_URL=url,
        NO_PROXY="127.0.0.1,localhost",
        PYTHONPATH=str(ROOT),
    )
    env.pop("GOOGLE_API_KEY", None)
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="fresh processes per cell")
    parser.add_argument("--providers", default=",".join(PROVIDERS))
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    from providers.sim import start_sim_process

    load = os.getloadavg()[0]
    print(f"load average at start: {load:.2f} on {os.cpu_count()} cores")
    print(
        f"{'provider':<10} {'way':<6} {'call 1 ms':>10} {'call 5 ms':>10} {'1 - 5 ms':>9} "
        f"{'spread 1-5':>14} {'prepare ms':>11}"
    )
    with start_sim_process() as sim:
        env = sim_env(sim.url)
        for provider in args.providers.split(","):
            for way in WAYS:
                samples = [measure(provider, way, env) for _ in range(args.repeat)]
                first = [s["excess_ms"][0] for s in samples]
                fifth = [s["excess_ms"][-1] for s in samples]
                gaps = sorted(a - b for a, b in zip(first, fifth, strict=True))
                prep = statistics.median(s["prepare_ms"] for s in samples)
                print(
                    f"{provider:<10} {way:<6} {statistics.median(first):>10.1f} "
                    f"{statistics.median(fifth):>10.1f} {statistics.median(gaps):>9.1f} "
                    f"{f'{gaps[0]:.1f}..{gaps[-1]:.1f}':>14} {prep:>11.0f}"
                )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
