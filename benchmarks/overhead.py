"""What the race engine itself costs: N simulated models of fixed, different latencies.

For each size and mode it prints wall time against two ideals: the requests' own measured
durations (sum for sync, longest for the concurrent modes) and the simulator's nominal
schedule (what the models would take with a zero-cost client). Run it with

    .venv/bin/python benchmarks/overhead.py [--sizes 2,4,8,16,64] [--modes sync,async] [--repeat 3]

Each cell is the median of --repeat runs, with the worst overhead beside it.

The simulator runs in its own process so its pacing is not disturbed by the engine.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from providers import Request, make_adapter
from providers.environment import loopback_no_proxy
from providers.race import Mode, Race, default_pool_size, parse_mode
from providers.sim import start_sim_process

TOKENS, TPS = 20, 200


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
    race = Race([make_adapter(m) for m in models], Request("Explain asyncio."), parse_mode(mode))
    [run] = await race.run()
    failed = [r for r in run.results if not r.ok]
    if failed:
        raise SystemExit(f"{failed[0].source}: {failed[0].error}")
    return run.wall_s or 0.0, run.ideal_s or 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2,4,8,16,64")
    parser.add_argument("--modes", default="sync,async,threads,limit=4")
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell; the median is shown")
    args = parser.parse_args()
    loopback_no_proxy()
    with start_sim_process() as sim:
        os.environ["MODELRACE_SIM_URL"] = sim.url
        asyncio.run(measure(specs(2)[0], "async"))  # warm imports and the server
        header = f"{'models':>6}  {'mode':<8} {'wall s':>7} {'ideal s':>8} {'wall/ideal':>10} "
        header += f"{'overhead ms':>11} {'worst ms':>8} {'nominal s':>9} {'wall/nominal':>12}"
        print(header)
        for n in (int(s) for s in args.sizes.split(",")):
            models, nominal = specs(n)
            for mode in args.modes.split(","):
                samples = sorted(
                    (asyncio.run(measure(models, mode)) for _ in range(args.repeat)),
                    key=lambda s: s[0] - s[1],
                )
                wall, ideal = samples[len(samples) // 2]
                worst = samples[-1][0] - samples[-1][1]
                bound = _nominal_bound(nominal, parse_mode(mode))
                print(
                    f"{n:>6}  {mode:<8} {wall:>7.3f} {ideal:>8.3f} {wall / ideal:>10.3f} "
                    f"{(wall - ideal) * 1000:>11.1f} {worst * 1000:>8.1f} {bound:>9.3f} "
                    f"{wall / bound:>12.3f}"
                )


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
