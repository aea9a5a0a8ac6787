"""`--repeat N`: the same race N times, so each figure is a distribution, not an anecdote."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from providers.base import Adapter
from providers.bench.samples import Sample, Summary, summarise
from providers.bench.stats import QUANTILE_METHOD, bootstrap_median
from providers.clients import ClientPool
from providers.race import Mode, Race
from providers.record import State, no_speedup_reason, speedup
from providers.request import Request

# (races done, races in all, what is running now)
Progress = Callable[[int, int, str], None]


@dataclass
class RepeatBench:
    """Races `adapters` `repeat` times after `warmup` unmeasured ones; fills in as it goes.

    Measured samples are kept as each race ends, so an interrupted bench still reports what
    it measured: the finished requests of the race under way count, its cancelled ones not.
    """

    adapters: Sequence[Adapter]
    request: Request
    mode: Mode
    repeat: int
    warmup: int = 0
    samples: list[Sample] = field(default_factory=list)
    walls: list[dict[str, Any]] = field(default_factory=list)
    speedups: list[float] = field(default_factory=list)
    races_done: int = 0
    # Why the last race claimed no speedup (a model failed on one side…), for the report.
    no_speedup: str | None = None
    interrupted: bool = False

    @property
    def sides(self) -> list[str]:
        return [str(side) for side in self.mode.sides()]

    @property
    def models(self) -> list[str]:
        return [str(a.spec) for a in self.adapters]

    async def run(self, progress: Progress | None = None) -> None:
        total = self.warmup + self.repeat
        # One set of clients for every race, as the dashboard keeps them across races.
        clients = ClientPool()
        try:
            for i in range(total):
                measured = i >= self.warmup
                label = f"race {i - self.warmup + 1}/{self.repeat}" if measured else "warm-up"
                if progress is not None:
                    progress(i, total, label)
                race = Race(self.adapters, self.request, self.mode, clients=clients)
                try:
                    await race.run()
                finally:
                    if measured:
                        self._keep(race, i - self.warmup)
        finally:
            await clients.aclose()
        if progress is not None:
            progress(total, total, "done")

    def _keep(self, race: Race, index: int) -> None:
        for run in race.runs:
            for result in run.results:
                if result.state is State.CANCELLED:
                    self.interrupted = True
                elif result.state.over:
                    self.samples.append(Sample.of(result, run.mode, index))
            if run.wall_s is not None and not run.cancelled:
                wall: dict[str, Any] = {"index": index, "mode": run.mode, "wall_s": run.wall_s}
                if run.loop_lag is not None:
                    # How long the race's loop was held: the blocking mode's cost, per race.
                    wall["loop_stalled_s"] = round(run.loop_lag.stalled_s, 6)
                self.walls.append(wall)
        if all(run.over and not run.cancelled for run in race.runs):
            self.races_done += 1
            ratio = speedup(race.runs)
            if ratio is not None:
                self.speedups.append(ratio)
            else:
                self.no_speedup = no_speedup_reason(race.runs)

    def summaries(self) -> list[Summary]:
        return [summarise(self.samples, m, side) for side in self.sides for m in self.models]

    def speedup_interval(self) -> tuple[float, float, float] | None:
        """Median sync-over-async speedup with its 95% bootstrap interval, for `both`."""
        return bootstrap_median(self.speedups)

    def to_json(self, prompt: str) -> dict[str, object]:
        interval = self.speedup_interval()
        return {
            "bench": "repeat",
            "prompt": prompt,
            "mode": str(self.mode),
            "repeat": self.repeat,
            "warmup": self.warmup,
            "races_done": self.races_done,
            "interrupted": self.interrupted,
            "quantile_method": QUANTILE_METHOD,
            "summary": [s.to_json() for s in self.summaries()],
            "speedup": None
            if interval is None
            else {
                "median": round(interval[0], 4),
                "ci95": [round(interval[1], 4), round(interval[2], 4)],
                "samples": [round(x, 4) for x in self.speedups],
            },
            "walls": [{**w, "wall_s": round(float(w["wall_s"]), 6)} for w in self.walls],
            "samples": [s.to_json() for s in self.samples],
        }
