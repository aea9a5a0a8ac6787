"""Stream events: the one shape every adapter speaks.

Stamps are `time.perf_counter()` values taken when the event was seen, so a run can be laid
on one time axis whatever the provider. A failure is an event, never an escaping exception,
so one model's trouble cannot cancel or hide another's answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from providers.failures import FailureKind


@dataclass(frozen=True, slots=True)
class Started:
    t: float


@dataclass(frozen=True, slots=True)
class TextDelta:
    t: float
    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts as the API itself reported them (None where it did not say)."""

    t: float
    input_tokens: int | None
    output_tokens: int | None


@dataclass(frozen=True, slots=True)
class Finished:
    t: float
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Failed:
    """`error` is one line for people; `kind` (and `status` for HTTP errors) for programs."""

    t: float
    error: str
    kind: FailureKind = FailureKind.OTHER
    status: int | None = None
    # Seconds the server asked the client to wait (`Retry-After`), when it said.
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class Retrying:
    """An attempt failed before any text and another follows (`--retries`): the result
    keeps it as a failed segment and goes on waiting; its clock still runs from the first."""

    t: float
    error: str
    kind: FailureKind = FailureKind.OTHER
    status: int | None = None


Event = Started | TextDelta | Usage | Finished | Failed | Retrying
