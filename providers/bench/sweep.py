"""`--concurrency 1,2,4,…`: a closed-loop sweep, and the one-sentence answer it leads to.

Closed loop, as genai-perf's `--concurrency`: each of L workers sends a request, waits for
its whole answer, and sends the next, so exactly L requests are in flight. With a duration,
workers stop starting requests at the deadline and the ones in flight finish (their
latencies count); rates count only what happened inside the window: requests that ended in
it, and the share of each successful answer's tokens that arrived in it. With a request
count, the window runs from the first start to the last end.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from providers.base import Adapter, describe_error
from providers.bench.samples import Sample
from providers.bench.stats import QUANTILE_METHOD, percentiles
from providers.events import Failed
from providers.race import prepare_clients
from providers.record import Result, State
from providers.request import Request

PEAK_SHARE = 0.9
GIVE_UP_AFTER = 20

# (cells done, cells in all, what is running now)
Progress = Callable[[int, int, str], None]


class SweepError(ValueError):
    """A malformed concurrency list, duration or request count."""


def parse_levels(text: str) -> list[int]:
    """ "1,2,4,8" → [1, 2, 4, 8]: whole numbers of at least 1, each once, in rising order."""
    levels = []
    for part in text.split(","):
        try:
            level = int(part.strip())
        except ValueError:
            raise SweepError(
                f"bad --concurrency {text!r}: {part.strip()!r} is not a whole number"
            ) from None
        if level < 1:
            raise SweepError(f"bad --concurrency {text!r}: levels must be at least 1")
        levels.append(level)
    return sorted(set(levels))


@dataclass
class Level:
    """One model at one concurrency level."""

    model: str
    level: int
    window_s: float
    samples: list[Sample]
    tokens_in_window: float
    requests_in_window: int

    @property
    def ok(self) -> list[Sample]:
        return [s for s in self.samples if s.ok]

    @property
    def requests_per_s(self) -> float:
        return self.requests_in_window / self.window_s if self.window_s > 0 else 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.tokens_in_window / self.window_s if self.window_s > 0 else 0.0

    @property
    def error_rate(self) -> float:
        return (len(self.samples) - len(self.ok)) / len(self.samples) if self.samples else 0.0

    @property
    def ttft(self) -> dict[str, float | None]:
        return percentiles([s.ttft_s for s in self.ok if s.ttft_s is not None], (50, 99))

    @property
    def e2e(self) -> dict[str, float | None]:
        return percentiles([s.e2e_s for s in self.ok if s.e2e_s is not None], (50, 99))

    @property
    def first_error(self) -> str | None:
        return next((s.error for s in self.samples if not s.ok), None)

    def to_json(self) -> dict[str, object]:
        return {
            "model": self.model,
            "concurrency": self.level,
            "window_s": round(self.window_s, 6),
            "requests": len(self.samples),
            "requests_in_window": self.requests_in_window,
            "requests_per_s": round(self.requests_per_s, 4),
            "output_tokens_per_s": round(self.tokens_per_s, 3),
            "ttft_s": self.ttft,
            "e2e_s": self.e2e,
            "error_rate": round(self.error_rate, 4),
            "samples": [s.to_json() for s in self.samples],
        }


async def closed_loop(
    adapter: Adapter,
    request: Request,
    level: int,
    *,
    duration: float | None = None,
    requests: int | None = None,
    results: list[Result] | None = None,
) -> Level:
    """Keep `level` requests in flight against one model for `duration` s or `requests`.

    The adapter's client stays open for the caller to close (`Sweep.run` keeps it across
    levels, so a level does not pay for new connections). `results` (filled as requests
    start) lets a caller measure what finished when it is interrupted. A model that has only
    failed stops after `GIVE_UP_AFTER` failures, rather than spin through instant errors.
    """
    # Each of the level's requests finds a connection open, not only the first.
    in_flight = level if requests is None else min(level, requests)
    await prepare_clients([adapter], False, request.timeout, each=in_flight)
    results = [] if results is None else results
    t0 = time.perf_counter()
    deadline = None if duration is None else t0 + duration

    answered = failed = 0

    def more() -> bool:
        if deadline is not None and time.perf_counter() >= deadline:
            return False
        if failed >= GIVE_UP_AFTER and not answered:
            return False
        return requests is None or len(results) < requests

    async def worker() -> None:
        nonlocal answered, failed
        while more():
            result = Result(str(adapter.spec))
            result.queue()
            results.append(result)
            try:
                async for event in adapter.stream_async(request):
                    result.apply(event)
            except asyncio.CancelledError:
                result.cancel()
                raise
            except Exception as exc:
                result.apply(Failed(time.perf_counter(), describe_error(exc)))
            if result.ok:
                answered += 1
            else:
                failed += 1

    async with asyncio.TaskGroup() as group:
        for _ in range(level):
            group.create_task(worker())
    return _measure(str(adapter.spec), level, results, t0, deadline)


def _measure(
    model: str, level: int, results: list[Result], t0: float, deadline: float | None
) -> Level:
    over = [r for r in results if r.state.over and r.state is not State.CANCELLED]
    ends = [r.end for r in over if r.end is not None]
    window_end = deadline if deadline is not None else max(ends, default=t0)
    tokens = 0.0
    in_window = 0
    for r in over:
        if r.state is not State.DONE or r.end is None:
            continue
        if r.end <= window_end:
            in_window += 1
        n = r.output_tokens or 0
        if r.chunk_times and n:
            arrived = sum(1 for t in r.chunk_times if t <= window_end)
            tokens += n * arrived / len(r.chunk_times)
    return Level(
        model=model,
        level=level,
        window_s=window_end - t0,
        samples=[Sample.of(r, f"limit={level}", i, t0) for i, r in enumerate(over)],
        tokens_in_window=tokens,
        requests_in_window=in_window,
    )


@dataclass
class Sweep:
    """Every model at every level, one model at a time so they never share the load."""

    adapters: Sequence[Adapter]
    request: Request
    levels: list[int]
    duration: float | None = None
    requests: int | None = None
    warmup: int = 0
    cells: list[Level] = field(default_factory=list)

    @property
    def models(self) -> list[str]:
        return [str(a.spec) for a in self.adapters]

    async def run(self, progress: Progress | None = None) -> None:
        try:
            await self._levels(progress)
        finally:
            await asyncio.shield(asyncio.gather(*(a.aclose() for a in self.adapters)))
            for adapter in self.adapters:
                adapter.close()

    async def _levels(self, progress: Progress | None) -> None:
        total = len(self.levels) * len(self.adapters)
        if self.warmup:
            for adapter in self.adapters:
                if progress is not None:
                    progress(0, total, f"warm-up {adapter.spec}")
                await closed_loop(adapter, self.request, 1, requests=self.warmup)
        done = 0
        for level in self.levels:
            for adapter in self.adapters:
                if progress is not None:
                    progress(done, total, f"limit={level} {adapter.spec}")
                results: list[Result] = []
                t0 = time.perf_counter()
                try:
                    cell = await closed_loop(
                        adapter,
                        self.request,
                        level,
                        duration=self.duration,
                        requests=self.requests,
                        results=results,
                    )
                except asyncio.CancelledError:
                    # Interrupted: what finished so far is still a measurement.
                    partial = _measure(str(adapter.spec), level, results, t0, time.perf_counter())
                    if partial.samples:
                        self.cells.append(partial)
                    raise
                self.cells.append(cell)
                done += 1
        if progress is not None:
            progress(total, total, "done")

    def of(self, model: str) -> list[Level]:
        return [c for c in self.cells if c.model == model]

    def advice(self, model: str) -> str:
        """The answer in one sentence: the smallest level reaching 90% of peak throughput,
        and what its p99 TTFT costs against the lowest level's."""
        cells = self.of(model)
        peak = max((c.tokens_per_s for c in cells), default=0.0)
        if peak <= 0:
            return f"{model}: no answer arrived at any level, so there is no peak to reach"
        pick = next(c for c in cells if c.tokens_per_s >= PEAK_SHARE * peak)
        share = round(100 * pick.tokens_per_s / peak)
        base = cells[0]
        cost = _secs(pick.ttft["p99"])
        if pick is not base:
            cost = f"{_secs(base.ttft['p99'])} → {cost}"
        return f"{model}: limit={pick.level}: {share}% of peak output tokens/s, p99 TTFT {cost}"

    def to_json(self, prompt: str) -> dict[str, object]:
        return {
            "bench": "concurrency",
            "prompt": prompt,
            "levels": self.levels,
            "duration_s": self.duration,
            "requests": self.requests,
            "warmup": self.warmup,
            "quantile_method": QUANTILE_METHOD,
            "advice": {m: self.advice(m) for m in self.models if self.of(m)},
            "cells": [c.to_json() for c in self.cells],
        }


def _secs(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f} s" if value < 1 else f"{value:.1f} s"
