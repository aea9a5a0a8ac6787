"""How long an event loop was held during a run: the cost of a blocking call in a coroutine.

A ticker task sleeps a few milliseconds at a time on the loop being measured and records how
much later than asked it woke, as the dashboard's lag meter does for the app's own loop. A
wake far later than asked is a stall: something held the loop and every other task waited.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

INTERVAL_S = 0.02
# A wake later than this counts as the loop being stalled (timer jitter stays well below).
STALL_S = 0.02


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile; 0 for no values (the dashboard's lag meter uses it too)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


@dataclass(eq=False)
class LoopLag:
    """What the ticker saw. Stall times are absolute `perf_counter()` values, like a result's."""

    max_s: float = 0.0
    p99_s: float = 0.0
    stalled_s: float = 0.0
    # Model tasks (or pipeline steps) that were waiting for the loop when it stalled longest.
    waiting_at_peak: int = 0
    samples: int = 0
    stalls: list[tuple[float, float]] = field(default_factory=list)

    def to_json(self, t0: float) -> dict[str, object]:
        return {
            "max_s": round(self.max_s, 6),
            "p99_s": round(self.p99_s, 6),
            "stalled_s": round(self.stalled_s, 6),
            "waiting_at_peak": self.waiting_at_peak,
            "samples": self.samples,
            "stalls": [[round(a - t0, 6), round(b - t0, 6)] for a, b in self.stalls],
        }

    def until(self, end: float) -> LoopLag:
        """Only what fell before `end`: a cancelled run ends before its held loop lets go."""
        stalls = [(a, min(b, end)) for a, b in self.stalls if a < end]
        stalled = sum(b - a for a, b in stalls)
        peak = min(self.max_s, stalled) if self.max_s > STALL_S else self.max_s
        return LoopLag(
            max_s=peak,
            p99_s=min(self.p99_s, peak),
            stalled_s=stalled,
            waiting_at_peak=self.waiting_at_peak,
            samples=self.samples,
            stalls=stalls,
        )

    @classmethod
    def from_json(cls, data: dict[str, object], t0: float = 0.0) -> LoopLag:
        """The inverse of `to_json` (for the run store, whose runs start at 0)."""
        stalls = data.get("stalls") or []
        assert isinstance(stalls, list)
        return cls(
            max_s=_number(data, "max_s"),
            p99_s=_number(data, "p99_s"),
            stalled_s=_number(data, "stalled_s"),
            waiting_at_peak=int(_number(data, "waiting_at_peak")),
            samples=int(_number(data, "samples")),
            stalls=[(t0 + float(a), t0 + float(b)) for a, b in stalls],
        )


class LagProbe:
    """Measures the running loop from `start()` to `stop()`.

    Tasks that take part are `watch`ed; a task about to block calls `blocking()`, which notes
    how many of the others are still waiting, so the report can say who the stall held up.
    """

    def __init__(self, interval: float = INTERVAL_S) -> None:
        self.interval = interval
        self.lags: list[float] = []
        self.stalls: list[tuple[float, float]] = []
        self._ticker: asyncio.Task[None] | None = None
        self._asleep_since: float | None = None
        self._watched: set[asyncio.Future[Any]] = set()
        self._waiting_now = 0
        self._peak = 0.0
        self._waiting_at_peak = 0

    async def start(self) -> None:
        self._ticker = asyncio.get_running_loop().create_task(self._tick())
        # Let the ticker take its first sleep before anything can hold the loop.
        await asyncio.sleep(0)

    def watch(self, tasks: Iterable[asyncio.Future[Any]]) -> None:
        self._watched.update(tasks)

    def blocking(self) -> None:
        """Called by a task right before it holds the loop."""
        current = asyncio.current_task()
        waiting = sum(1 for t in self._watched if not t.done() and t is not current)
        self._waiting_now = max(self._waiting_now, waiting)

    async def _tick(self) -> None:
        while True:
            self._asleep_since = time.perf_counter()
            await asyncio.sleep(self.interval)
            self._woke(time.perf_counter())

    def _woke(self, now: float) -> None:
        since = self._asleep_since
        if since is None:
            return
        self._asleep_since = None
        lag = max(0.0, now - since - self.interval)
        self.lags.append(lag)
        if lag > STALL_S:
            self.stalls.append((since + self.interval, now))
        if lag > self._peak:
            self._peak = lag
            self._waiting_at_peak = self._waiting_now
        self._waiting_now = 0

    async def stop(self) -> LoopLag:
        # A stall that ended after the ticker's last wake still counts.
        self._woke(time.perf_counter())
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        stalled = sum(b - a for a, b in self.stalls)
        return LoopLag(
            max_s=max(self.lags, default=0.0),
            p99_s=percentile(self.lags, 0.99),
            stalled_s=stalled,
            waiting_at_peak=self._waiting_at_peak,
            samples=len(self.lags),
            stalls=list(self.stalls),
        )


def _number(data: dict[str, object], key: str) -> float:
    """A stored figure; missing or not a number (a hand-edited store): 0."""
    value = data.get(key)
    return float(value) if isinstance(value, int | float) else 0.0
