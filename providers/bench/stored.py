"""A bench back from its `--json` document: what the run store keeps, made drawable again.

The document holds every sample, so the objects rebuilt here give the charts and figures the
live bench gave. They have no adapters: the model names come from the document, and such a
bench can be drawn and reported, not run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from providers.bench.repeat import RepeatBench
from providers.bench.samples import Sample
from providers.bench.sweep import Level, Sweep
from providers.race import parse_mode
from providers.request import Request


class BadBenchDocument(ValueError):
    """The stored document is not a bench this version can read."""


@dataclass
class StoredSweep(Sweep):
    """A finished sweep as stored; `models` is what the document names."""

    names: list[str] = field(default_factory=list)

    @property
    def models(self) -> list[str]:
        return self.names


@dataclass
class StoredRepeat(RepeatBench):
    """A finished `--repeat` bench as stored; `models` is what the document names."""

    names: list[str] = field(default_factory=list)

    @property
    def models(self) -> list[str]:
        return self.names


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def sample_from_json(d: dict[str, Any]) -> Sample:
    """The inverse of `Sample.to_json` (rounded to the microsecond it was written with)."""
    tokens = d.get("output_tokens")
    return Sample(
        model=str(d.get("model", "")),
        side=str(d.get("mode", "")),
        index=int(d.get("index", 0)),
        ok=bool(d.get("ok")),
        ttft_s=_number(d.get("ttft_s")),
        itl_s=_number(d.get("inter_token_latency_s")),
        e2e_s=_number(d.get("e2e_s")),
        output_tokens=tokens if isinstance(tokens, int) else None,
        tokens_per_s=_number(d.get("output_tokens_per_s")),
        error=None if d.get("error") is None else str(d["error"]),
        error_kind=None if d.get("error_kind") is None else str(d["error_kind"]),
        start_s=_number(d.get("start_s")),
        end_s=_number(d.get("end_s")),
        attempts=int(d.get("attempts", 1)),
    )


def _level(d: dict[str, Any]) -> Level:
    window = _number(d.get("window_s")) or 0.0
    return Level(
        model=str(d["model"]),
        level=int(d["concurrency"]),
        window_s=window,
        samples=[sample_from_json(s) for s in d.get("samples", [])],
        tokens_in_window=(_number(d.get("output_tokens_per_s")) or 0.0) * window,
        requests_in_window=int(d.get("requests_in_window", 0)),
    )


def _names(found: list[str], models: list[str] | None) -> list[str]:
    """The bench's models in its own order, then any the samples name that it did not."""
    names = list(models or [])
    return names + [m for m in dict.fromkeys(found) if m not in names]


def bench_from_json(
    document: str | dict[str, Any], models: list[str] | None = None
) -> StoredSweep | StoredRepeat:
    """The bench a `bench --json` document describes; `models` in the order it ran them."""
    try:
        doc = json.loads(document) if isinstance(document, str) else document
        prompt = str(doc.get("prompt", ""))
        if doc.get("bench") == "concurrency":
            cells = [_level(c) for c in doc.get("cells", [])]
            duration, requests = doc.get("duration_s"), doc.get("requests")
            return StoredSweep(
                adapters=[],
                request=Request(prompt),
                levels=[int(level) for level in doc.get("levels", [])],
                duration=_number(duration),
                requests=requests if isinstance(requests, int) else None,
                warmup=int(doc.get("warmup") or 0),
                cells=cells,
                names=_names([c.model for c in cells], models),
            )
        if doc.get("bench") == "repeat":
            samples = [sample_from_json(s) for s in doc.get("samples", [])]
            speedup = doc.get("speedup") or {}
            return StoredRepeat(
                adapters=[],
                request=Request(prompt),
                mode=parse_mode(str(doc.get("mode", "async"))),
                repeat=int(doc.get("repeat", 0)),
                warmup=int(doc.get("warmup") or 0),
                samples=samples,
                walls=list(doc.get("walls", [])),
                speedups=[float(x) for x in speedup.get("samples", [])],
                races_done=int(doc.get("races_done", 0)),
                interrupted=bool(doc.get("interrupted")),
                names=_names([s.model for s in samples], models),
            )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise BadBenchDocument(f"the stored bench document cannot be read: {exc}") from None
    raise BadBenchDocument(f"the stored document is no bench this version knows: {doc!r:.60}")
