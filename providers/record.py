"""The record of a race: what each model did and when, live while it runs.

A result changes only through its own transitions (`apply`, `cancel`, `skip`, `finish_with`),
each under that result's lock, because events arrive from the event loop or a worker thread
while `cancel()` may come from a third: the lock keeps "over" final (no DONE after CANCELLED,
no chunk after the end). Readers, such as the dashboard's timer, look whenever they like:
each write is a single attribute store or list append, so a reader never sees a torn value.
Everything is serialisable, because runs are exported and stored.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from providers.events import Event, Failed, Finished, Retrying, Started, TextDelta, Usage
from providers.failures import FailureKind
from providers.looplag import LoopLag


class State(StrEnum):
    PREPARING = "preparing"
    WAITING = "waiting"
    STREAMING = "streaming"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def over(self) -> bool:
        return self in (State.DONE, State.FAILED, State.CANCELLED)


@dataclass(frozen=True, slots=True)
class Attempt:
    """A failed attempt that was tried again (`--retries`): a segment of its own."""

    start: float
    end: float
    error: str
    kind: FailureKind
    status: int | None = None

    def to_json(self, t0: float) -> dict[str, object]:
        return {
            "start_s": round(self.start - t0, 6),
            "end_s": round(self.end - t0, 6),
            "error": self.error,
            "error_kind": str(self.kind),
            "http_status": self.status,
        }


# Characters per token for an estimate when the API reports no usage.
CHARS_PER_TOKEN = 4


@dataclass(eq=False)
class Result:
    """One request within one run. Times are absolute `perf_counter()` values."""

    # Where the text comes from: a model spec; for a pipeline step that is no model, what it
    # does ("wait 2s", "GET url"). Exported under the JSON key "model", as the contract says.
    source: str
    state: State = State.PREPARING
    chunks: list[str] = field(default_factory=list)
    chunk_times: list[float] = field(default_factory=list)
    error: str | None = None
    error_kind: FailureKind | None = None
    http_status: int | None = None
    # A note shown while the result has not started (e.g. "starting the simulator…").
    status: str | None = None
    start: float | None = None
    first_token: float | None = None
    end: float | None = None
    input_tokens: int | None = None
    reported_output_tokens: int | None = None
    # Failed attempts before the current one, and when the current one started (retries).
    failed_attempts: list[Attempt] = field(default_factory=list)
    attempt_start: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    # (chunks, characters) counted so far: the status line asks for the length every poll.
    _counted: tuple[int, int] = field(default=(0, 0), repr=False, compare=False)

    # --- transitions: the only writers of a result's state --------------------------------

    def apply(self, event: Event) -> None:
        """Fold one stream event in; events after the end are ignored."""
        with self._lock:
            if self.state.over:
                return
            if isinstance(event, TextDelta):
                if self.first_token is None:
                    self.first_token = event.t
                    self.state = State.STREAMING
                self.chunks.append(event.text)
                self.chunk_times.append(event.t)
            elif isinstance(event, Started):
                if self.start is None or not self.failed_attempts:
                    self.start = event.t  # TTFT and e2e run from the first attempt
                self.attempt_start = event.t
                self.state = State.WAITING
            elif isinstance(event, Retrying):
                began = self.attempt_start if self.attempt_start is not None else event.t
                self.failed_attempts.append(
                    Attempt(began, event.t, event.error, event.kind, event.status)
                )
            elif isinstance(event, Usage):
                self.input_tokens = event.input_tokens
                self.reported_output_tokens = event.output_tokens
            elif isinstance(event, Finished):
                self.end = event.t
                self.state = State.DONE
            elif isinstance(event, Failed):
                self._fail(event.t, event.error, event.kind, event.status)

    def finish_with(self, text: str, now: float | None = None) -> None:
        """A step that is not a stream (wait, get): its text arrives whole, at its end."""
        with self._lock:
            if self.state.over:
                return
            self.end = self.first_token = now if now is not None else time.perf_counter()
            if text:
                self.chunks.append(text)
                self.chunk_times.append(self.end)
            self.state = State.DONE

    def queue(self) -> None:
        """Back to waiting at the start of a side: the clock is about to start."""
        with self._lock:
            if not self.state.over:
                self.state = State.WAITING

    def cancel(self, now: float | None = None) -> None:
        """Stop where it stands, keeping whatever text had arrived."""
        with self._lock:
            if not self.state.over:
                self._fail(now, "cancelled", FailureKind.CANCELLED)

    def skip(self, reason: str, now: float | None = None) -> None:
        """Never started, because something it depends on failed."""
        with self._lock:
            if not self.state.over:
                self._fail(now, reason, FailureKind.SKIPPED)

    def _fail(
        self, now: float | None, error: str, kind: FailureKind, status: int | None = None
    ) -> None:
        self.end = now if now is not None else time.perf_counter()
        if self.start is None:
            self.start = self.end
        self.error = error
        self.error_kind = kind
        self.http_status = status
        self.state = State.CANCELLED if kind is FailureKind.CANCELLED else State.FAILED

    @property
    def label(self) -> str:
        """What a row showing this result is called."""
        return self.source

    @property
    def skipped(self) -> bool:
        return self.error_kind is FailureKind.SKIPPED

    @property
    def attempts(self) -> int:
        """Requests sent: the failed ones that were retried, plus the last (0: none sent;
        stopped while waiting to retry, the retried ones only)."""
        if self.attempt_start is None or self.skipped:
            return 0
        tried = self.failed_attempts
        return len(tried) + (not tried or self.attempt_start > tried[-1].start)

    @property
    def retry_lost_s(self) -> float:
        """Time the retried attempts cost: from the first attempt's start to the last's (or
        to the end, when it ended while waiting to retry)."""
        if not self.failed_attempts or self.start is None or self.attempt_start is None:
            return 0.0
        if self.attempts > len(self.failed_attempts):
            return self.attempt_start - self.start
        return (self.end if self.end is not None else self.attempt_start) - self.start

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    @property
    def ok(self) -> bool:
        return self.state is State.DONE

    @property
    def output_tokens(self) -> int | None:
        """The API's own count, else an estimate (see `tokens_estimated`)."""
        if self.reported_output_tokens is not None:
            return self.reported_output_tokens
        if not self.chunks:
            return None if self.state is State.FAILED else 0
        # Each streamed chunk carries at least one token; long chunks carry about 4 chars each.
        return max(len(self.chunks), round(self.text_length / CHARS_PER_TOKEN))

    @property
    def text_length(self) -> int:
        """`len(self.text)`, counting only the chunks that arrived since it was last asked."""
        chunks = self.chunks
        seen, chars = self._counted
        if len(chunks) < seen:
            seen, chars = 0, 0
        if len(chunks) > seen:
            chars += sum(map(len, chunks[seen:]))
            self._counted = (len(chunks), chars)
        return chars

    @property
    def tokens_estimated(self) -> bool:
        return self.reported_output_tokens is None and bool(self.chunks)

    @property
    def cost_usd(self) -> float | None:
        """What the request cost by the API's own token counts; None when unknown
        (providers/pricing.py says when)."""
        from providers.pricing import result_cost

        return result_cost(self)

    @property
    def duration(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return self.end - self.start

    @property
    def ttft(self) -> float | None:
        if self.start is None or self.first_token is None:
            return None
        return self.first_token - self.start

    @property
    def tokens_per_s(self) -> float | None:
        """Output tokens after the first, over the generation phase (end − first token)."""
        tokens = self.output_tokens
        if tokens is None or tokens < 2 or self.first_token is None or self.end is None:
            return None
        span = self.end - self.first_token
        return (tokens - 1) / span if span > 0 else None

    @property
    def inter_token_latency(self) -> float | None:
        """genai-perf's ITL: (e2e − TTFT) / (tokens − 1)."""
        tokens, ttft, e2e = self.output_tokens, self.ttft, self.duration
        if tokens is None or tokens < 2 or ttft is None or e2e is None:
            return None
        return (e2e - ttft) / (tokens - 1)

    def to_json(self, t0: float) -> dict[str, object]:
        def rel(t: float | None) -> float | None:
            return None if t is None else round(t - t0, 6)

        itl = self.inter_token_latency
        tps = self.tokens_per_s
        cost = self.cost_usd
        return {
            "model": self.source,
            "ok": self.ok,
            "text": self.text,
            "error": self.error,
            "error_kind": None if self.error_kind is None else str(self.error_kind),
            "http_status": self.http_status,
            "start_s": rel(self.start) if self.start is not None else 0.0,
            "first_token_s": rel(self.first_token),
            "end_s": rel(self.end) if self.end is not None else rel(self.start) or 0.0,
            "output_tokens": self.output_tokens,
            "tokens_per_s": None if tps is None else round(tps, 3),
            "state": str(self.state),
            "tokens_estimated": self.tokens_estimated,
            "input_tokens": self.input_tokens,
            "inter_token_latency_s": None if itl is None else round(itl, 6),
            "attempts": self.attempts,
            "retry_lost_s": round(self.retry_lost_s, 6),
            "failed_attempts": [a.to_json(t0) for a in self.failed_attempts],
            "cost_usd": None if cost is None else round(cost, 10),
        }


ResultT = TypeVar("ResultT", bound=Result)


@dataclass(eq=False)
class Run(Generic[ResultT]):
    """One pass of the prompt over every model in one mode (for a pipeline, every step)."""

    mode: str
    results: list[ResultT]
    concurrent: bool
    t0: float | None = None
    t_end: float | None = None
    # Threads mode: how many workers the executor had; the lesson is that it caps overlap.
    pool_size: int | None = None
    limit: int | None = None
    cancelled: bool = False
    # How long the loop the run's tasks ran on was held (the blocking mode's whole lesson).
    loop_lag: LoopLag | None = None

    @property
    def over(self) -> bool:
        return self.t_end is not None

    @property
    def label(self) -> str:
        """The pipeline a pass belongs to; empty for a race."""
        return ""

    @property
    def critical_path(self) -> list[str]:
        """The labels of the results that decided the wall time; empty for a race."""
        return []

    @property
    def wall_s(self) -> float | None:
        if self.t0 is None or self.t_end is None:
            return None
        return self.t_end - self.t0

    @property
    def slots(self) -> int | None:
        """How many requests the mode lets run at once (None: all of them)."""
        if not self.concurrent:
            return 1
        return self.limit or self.pool_size

    @property
    def ideal_s(self) -> float | None:
        """Zero-overhead wall time from the requests' own durations.

        Sequential: their sum. All at once: the longest. At most N at once: the finish time
        of the same requests, in the same order, on N slots that lose no time in between.
        """
        durations = [r.duration for r in self.results if r.duration is not None]
        if not durations:
            return None
        slots = self.slots
        if slots is None or slots >= len(durations):
            return max(durations)
        free = [0.0] * slots
        for duration in durations:
            free[free.index(min(free))] += duration
        return max(free)

    @property
    def overhead_s(self) -> float | None:
        wall, ideal = self.wall_s, self.ideal_s
        return None if wall is None or ideal is None else wall - ideal

    def to_json(self) -> dict[str, object]:
        from providers.pricing import cost_sum

        t0 = self.t0 or 0.0
        return {
            "mode": self.mode,
            "wall_s": round(self.wall_s or 0.0, 6),
            "ideal_s": round(self.ideal_s or 0.0, 6),
            "overhead_s": round(self.overhead_s or 0.0, 6),
            "pool_size": self.pool_size,
            "limit": self.limit,
            "cancelled": self.cancelled,
            "loop_lag": None if self.loop_lag is None else self.loop_lag.to_json(t0),
            "results": [r.to_json(t0) for r in self.results],
            # Null unless every result's price is known: a partial sum is not the cost.
            "cost_usd": cost_sum(self.results).to_json(),
        }


def speedup(runs: Sequence[Run[Any]]) -> float | None:
    """Sync wall over async wall, claimed only when it compares like with like.

    Both sides must have run to their end (not cancelled) and the same models must have
    finished (state done) on both: a model that failed on one side only, or nothing finished
    at all, would make the ratio compare different work. `no_speedup_reason` says why not.
    """
    return _speedup_or_reason(runs)[0]


def no_speedup_reason(runs: Sequence[Run[Any]]) -> str | None:
    """Why `speedup` claims nothing, in words for people (no "No speedup:" prefix); None when
    it claims a ratio."""
    return _speedup_or_reason(runs)[1]


def speedup_vs_sync(runs: Sequence[Run[Any]], run: Run[Any]) -> float | None:
    """The sync run's wall over `run`'s, under the same like-with-like rule as `speedup`."""
    return _speedup_or_reason(runs, run)[0]


def no_speedup_vs_sync_reason(runs: Sequence[Run[Any]], run: Run[Any]) -> str | None:
    return _speedup_or_reason(runs, run)[1]


def _speedup_or_reason(
    runs: Sequence[Run[Any]], against: Run[Any] | None = None
) -> tuple[float | None, str | None]:
    # The first of each mode: callers pass runs newest first when they want the newest pair.
    sync = next((r for r in runs if r.mode == "sync"), None)
    other = against or next((r for r in runs if r.mode == "async"), None)
    if sync is None or other is None:
        missing = "sync" if sync is None else "async"
        return None, f"there is no {missing} run to compare with"
    for side in (sync, other):
        if side.cancelled:
            return None, f"the {side.mode} run was cancelled"
        if not side.over:
            return None, f"the {side.mode} run has not finished"
    done_sync = _done(sync)
    done_async = _done(other)
    if done_sync != done_async or not done_sync:
        return None, _differences(sync, other, done_sync, done_async)
    if not sync.wall_s or not other.wall_s:
        return None, "a wall time of zero compares nothing"
    return sync.wall_s / other.wall_s, None


def _done(run: Run[Any]) -> list[str]:
    return sorted(r.source for r in run.results if r.state is State.DONE)


def _differences(
    sync: Run[Any], other: Run[Any], done_sync: list[str], done_async: list[str]
) -> str:
    """Which models kept the two sides from doing the same work, one clause each."""
    models = list(dict.fromkeys(r.source for r in (*sync.results, *other.results)))
    clauses = []
    for model in models:
        on_sync, on_async = done_sync.count(model), done_async.count(model)
        if on_sync == on_async and on_sync:
            continue
        sync_state, async_state = _not_done(sync, model), _not_done(other, model)
        if on_sync == on_async:
            both = sync_state if sync_state == async_state else f"{sync_state}/{async_state}"
            clauses.append(f"{model} {both} on both sides")
        else:
            state, side = (async_state, other.mode) if on_sync > on_async else (sync_state, "sync")
            clauses.append(f"{model} {state} on the {side} side only")
    return "; ".join(clauses) or "no model finished on either side"


def _not_done(run: Run[Any], model: str) -> str:
    """What became of `model` in `run` when it did not finish there."""
    left = [r for r in run.results if r.source == model and r.state is not State.DONE]
    if not left:
        return "did not run"
    return "skipped" if left[0].skipped else str(left[0].state)


def document(prompt: str, runs: Sequence[Run[Any]]) -> dict[str, object]:
    """The `run --json` contract from DESIGN.md (extra keys only add to it).

    Here, not in the command line, because the run store rebuilds it from stored rows.
    """
    ratio = speedup(runs)
    documents = []
    for run in runs:
        against = speedup_vs_sync(runs, run)
        documents.append(
            {**run.to_json(), "speedup_vs_sync": None if against is None else round(against, 4)}
        )
    return {
        "prompt": prompt,
        "runs": documents,
        "speedup": None if ratio is None else round(ratio, 4),
    }
