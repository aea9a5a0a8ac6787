"""One request's measurements, in genai-perf's terms, and their per-model summary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from providers.bench.stats import percentiles
from providers.record import Result, State


def _us(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


@dataclass(frozen=True, slots=True)
class Sample:
    """One request. Latencies in seconds; None where the request never got that far.

    `tokens_per_s` is genai-perf's output token throughput per request: output tokens over
    request latency (so TTFT counts against it, unlike the race table's generation rate).
    """

    model: str
    side: str
    index: int
    ok: bool
    ttft_s: float | None
    itl_s: float | None
    e2e_s: float | None
    output_tokens: int | None
    tokens_per_s: float | None
    error: str | None
    error_kind: str | None
    # Seconds from the start of the measurement (a sweep level), for windows and plots.
    start_s: float | None = None
    end_s: float | None = None
    attempts: int = 1  # with --retries, the requests it took

    @classmethod
    def of(cls, result: Result, side: str, index: int, t0: float | None = None) -> Sample:
        ok = result.state is State.DONE
        e2e = result.duration
        tokens = result.output_tokens
        rate = tokens / e2e if ok and tokens and e2e else None
        # Kept to the microsecond, as the JSON keeps it: a report recomputed from a stored
        # bench then matches the one printed when it ran, to the character.
        return cls(
            model=result.source,
            side=side,
            index=index,
            ok=ok,
            ttft_s=_us(result.ttft),
            itl_s=_us(result.inter_token_latency) if ok else None,
            e2e_s=_us(e2e) if ok else None,
            output_tokens=tokens,
            tokens_per_s=_us(rate),
            error=result.error,
            error_kind=None if result.error_kind is None else str(result.error_kind),
            start_s=None if t0 is None or result.start is None else _us(result.start - t0),
            end_s=None if t0 is None or result.end is None else _us(result.end - t0),
            attempts=result.attempts,
        )

    def to_json(self) -> dict[str, object]:
        r = _us
        return {
            "model": self.model,
            "mode": self.side,
            "index": self.index,
            "ok": self.ok,
            "ttft_s": r(self.ttft_s),
            "inter_token_latency_s": r(self.itl_s),
            "e2e_s": r(self.e2e_s),
            "output_tokens": self.output_tokens,
            "output_tokens_per_s": r(self.tokens_per_s),
            "error": self.error,
            "error_kind": self.error_kind,
            "start_s": r(self.start_s),
            "end_s": r(self.end_s),
            "attempts": self.attempts,
        }


@dataclass(frozen=True, slots=True)
class Summary:
    """Percentiles of one model's samples on one side (sync, async…)."""

    model: str
    side: str
    n: int
    failures: int
    ttft: dict[str, float | None]
    itl: dict[str, float | None]
    e2e: dict[str, float | None]
    tokens_per_s: dict[str, float | None]
    first_error: str | None

    @property
    def all_failed(self) -> bool:
        return self.n > 0 and self.failures == self.n

    def to_json(self) -> dict[str, object]:
        return {
            "model": self.model,
            "mode": self.side,
            "n": self.n,
            "failures": self.failures,
            "ttft_s": self.ttft,
            "inter_token_latency_s": self.itl,
            "e2e_s": self.e2e,
            "output_tokens_per_s": self.tokens_per_s,
            "first_error": self.first_error,
        }


def summarise(samples: Sequence[Sample], model: str, side: str) -> Summary:
    mine = [s for s in samples if s.model == model and s.side == side]
    good = [s for s in mine if s.ok]
    failed = [s for s in mine if not s.ok]

    def values(name: str) -> list[float]:
        return [v for s in good if (v := getattr(s, name)) is not None]

    return Summary(
        model=model,
        side=side,
        n=len(mine),
        failures=len(failed),
        ttft=percentiles(values("ttft_s"), (50, 90, 99)),
        itl=percentiles(values("itl_s"), (50, 99)),
        e2e=percentiles(values("e2e_s"), (50, 99)),
        tokens_per_s=percentiles(values("tokens_per_s"), (50,)),
        first_error=failed[0].error if failed else None,
    )
