"""How faithfully a replay keeps the recorded timing.

    .venv/bin/python benchmarks/replay.py [--races 4]

Each race: five simulated models (jittered, one dropping mid-answer) raced in mode `both`
through the simulator's child process, saved to a temporary run store, then raced again as
`replay:ID` in mode `both`. For every replayed result, on each side, the error is the
replayed minus the recorded time, from the result's own start, of: its first token, every
chunk, and its end. Printed: p50, p99 and max of |error| over all of them, and the mean
(the replay's own loopback overhead shows as a positive bias). Target: p99 < 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
from pathlib import Path

from providers import store
from providers.race import Race, parse_mode
from providers.record import Run
from providers.registry import make_adapter
from providers.request import Request
from providers.store.replay import expand

MODELS = (
    "sim:hosted,tokens=60,tps=80",
    "sim:localish,tokens=50",
    "sim:fast,ttft=0.3,tokens=80,tps=120,jitter=0.3",
    "sim:slow,tokens=20,ttft=0.4",
    "sim:flaky,jitter=0.2",
)


def race(specs: list[str], prompt: str) -> Race:
    adapters = [make_adapter(s) for s in specs]
    run = Race(adapters, Request(prompt), parse_mode("both"))
    asyncio.run(run.run())
    return run


def errors(recorded: Run, replayed: Run) -> list[float]:
    out: list[float] = []
    for old, new in zip(recorded.results, replayed.results, strict=True):
        assert new.text == old.text and new.error_kind == old.error_kind, (old, new)
        assert old.start is not None and new.start is not None
        for a, b in zip(old.chunk_times, new.chunk_times, strict=True):
            out.append((b - new.start) - (a - old.start))
        if old.end is not None and new.end is not None:
            out.append((new.end - new.start) - (old.end - old.start))
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(label: str, values: list[float]) -> None:
    size = [abs(v) for v in values]
    print(
        f"{label}: {len(values)} times; |error| p50 {pct(size, 0.5) * 1000:.1f} ms, "
        f"p99 {pct(size, 0.99) * 1000:.1f} ms, max {max(size) * 1000:.1f} ms; "
        f"mean error {statistics.mean(values) * 1000:+.1f} ms"
    )


def ttft_errors(recorded: Run, replayed: Run) -> list[float]:
    pairs = zip(recorded.results, replayed.results, strict=True)
    return [b.ttft - a.ttft for a, b in pairs if a.ttft is not None and b.ttft is not None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--races", type=int, default=4)
    args = parser.parse_args()
    by_side: dict[str, list[float]] = {"sync": [], "async": []}
    ttfts: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MODELRACE_DB"] = str(Path(tmp) / "replay.db")
        for number in range(args.races):
            original = race(list(MODELS), f"Explain asyncio, take {number}.")
            race_id = store.save(store.from_race(original))
            replay = race(expand([f"replay:{race_id}"]), "any prompt")
            for old, new in zip(original.runs, replay.runs, strict=True):
                by_side[old.mode] += errors(old, new)
                ttfts += ttft_errors(old, new)
    for side, values in by_side.items():
        report(f"{side} side, chunks and ends", values)
    report("time to first token, both sides", ttfts)
    report("everything", by_side["sync"] + by_side["async"])


if __name__ == "__main__":
    main()
