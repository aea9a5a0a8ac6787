"""Soak: many races in one process, to show nothing grows that should not.

Races cycle through five kinds — all succeed; failures (HTTP 500 and 429, a dropped
connection, a malformed chunk); a stall that `--timeout` ends; a stall cancelled from another
thread, as Esc does; a mix of all of these — and through the modes sync, async, threads and
limit=2, against the simulator in its own process. After every race it samples this
process's RSS, OS threads, open file descriptors and asyncio tasks, and it reports their growth
after the warm-up (the first --warmup races: SDK imports, pools, caches). Run it with

    .venv/bin/python benchmarks/soak.py [--races 1000] [--warmup 100]

Target: no growth in threads, fds or tasks beyond the warm-up; RSS growth under 10 %.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import statistics
import threading
import time

from providers import Request, make_adapter
from providers.environment import loopback_no_proxy
from providers.race import Race, parse_mode
from providers.sim import start_sim_process

MODES = ("sync", "async", "threads", "limit=2")
OK = "fast,ttft=0.01,tokens=12,tps=600,jitter=0"
FAILING = ("error", "ratelimited", "flaky,ttft=0.01,tps=600,after=4", "malformed,ttft=0.01,tps=600")
STALL = "stall,ttft=0.01,tps=600,after=3,stall=60"
TIMEOUT = 0.25
CANCEL_AFTER = 0.12
# Seconds for the last race's worker threads to end before a sample that counts growth.
SETTLE = 0.5
Sample = tuple[float, int, int, int]


def race_plan(i: int) -> tuple[list[str], float | None, bool]:
    """(sim models, timeout, cancel?) for race number i."""
    kind = ("ok", "fail", "timeout", "cancel", "mix")[i % 5]
    fail = FAILING[(i // 5) % len(FAILING)]
    if kind == "ok":
        return [OK, OK], None, False
    if kind == "fail":
        return [fail, OK], None, False
    if kind == "timeout":
        return [STALL, OK], TIMEOUT, False
    if kind == "cancel":
        return [OK, STALL], None, True
    return [OK, fail, STALL], TIMEOUT, False


def sample() -> Sample:
    """(RSS MiB, OS threads, open fds, asyncio tasks) of this process, right now."""
    with open("/proc/self/status") as status:
        rss_kib = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    threads = len(os.listdir("/proc/self/task"))
    fds = len(os.listdir("/proc/self/fd"))
    return rss_kib / 1024, threads, fds, len(asyncio.all_tasks())


async def one_race(i: int, outcomes: collections.Counter[str]) -> None:
    models, timeout, cancel = race_plan(i)
    mode = MODES[(i // 5) % len(MODES)]
    race = Race(
        [make_adapter(f"sim:{m}") for m in models],
        Request("Soak the engine.", timeout=timeout),
        parse_mode(mode),
    )
    timer = threading.Timer(CANCEL_AFTER, race.cancel) if cancel else None
    if timer is not None:
        timer.start()
    [run] = await race.run()
    if timer is not None:
        timer.join()
    for result in run.results:
        outcomes[str(result.error_kind or result.state)] += 1


async def soak(races: int, warmup: int) -> None:
    outcomes: collections.Counter[str] = collections.Counter()
    samples: list[Sample] = []
    started = time.perf_counter()
    print(f"{'races':>6} {'RSS MiB':>8} {'threads':>8} {'fds':>5} {'tasks':>6} {'s':>7}")
    base, named = sample(), thread_names()
    for i in range(races):
        await one_race(i, outcomes)
        samples.append(sample())
        if i + 1 == warmup:
            await asyncio.sleep(SETTLE)
            base, named = sample(), thread_names()
        if (i + 1) % max(1, races // 10) == 0 or i + 1 == warmup:
            rss, threads, fds, tasks = samples[-1]
            elapsed = time.perf_counter() - started
            print(f"{i + 1:>6} {rss:>8.1f} {threads:>8} {fds:>5} {tasks:>6} {elapsed:>7.1f}")
    await asyncio.sleep(SETTLE)
    report(samples[warmup:] or samples, base, sample(), outcomes, time.perf_counter() - started)
    print(
        f"  threads alive at the end that were not after warm-up: {thread_names() - named or '-'}"
    )


def thread_names() -> set[str]:
    return {t.name for t in threading.enumerate()}


def report(
    after: list[Sample],
    base: Sample,
    end: Sample,
    outcomes: collections.Counter[str],
    elapsed: float,
) -> None:
    """Growth from the end of the warm-up to the end, both taken once the last race's
    threads had SETTLE seconds to finish; peak and median over every race after warm-up."""
    names = ("RSS MiB", "threads", "fds", "asyncio tasks")
    print(
        f"\n{sum(outcomes.values())} results in {elapsed:.0f} s: {dict(sorted(outcomes.items()))}"
    )
    print("after warm-up → end (settled); peak and median over the races after warm-up")
    for n, name in enumerate(names):
        values = [s[n] for s in after]
        line = f"  {name:<14} {base[n]:>8.1f} → {end[n]:>8.1f}"
        line += f"   peak {max(values):>8.1f}   median {statistics.median(values):>8.1f}"
        if n == 0:
            line += f"   growth {100 * (end[0] - base[0]) / base[0]:+.1f} %"
        else:
            line += f"   growth {end[n] - base[n]:+.0f}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--races", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=100)
    args = parser.parse_args()
    loopback_no_proxy()
    with start_sim_process() as sim:
        os.environ["MODELRACE_SIM_URL"] = sim.url
        asyncio.run(soak(args.races, min(args.warmup, args.races)))


if __name__ == "__main__":
    main()
