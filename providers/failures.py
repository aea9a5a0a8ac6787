"""What kind of failure ended a result: decided from exception classes, never message text.

The message on a failure is for people and may change with an SDK release; the kind is for
programs (JSON, the run store, the state machine) and must not.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FailureKind(StrEnum):
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    HTTP = "http"
    RATE_LIMITED = "rate_limited"
    AUTH = "auth"
    NOT_FOUND = "not_found"
    CONNECTION = "connection"
    DROPPED = "dropped"
    MALFORMED = "malformed"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Classified:
    """What an exception means: its kind, the HTTP status if any, and the server's own words."""

    kind: FailureKind
    status: int | None = None
    detail: str | None = None


def http_failure(status: int, detail: str | None = None) -> Classified:
    """An HTTP error status, for SDKs that report only a number (Gemini, Ollama)."""
    if status in (401, 403):
        kind = FailureKind.AUTH
    elif status == 429:
        kind = FailureKind.RATE_LIMITED
    elif status == 404:
        kind = FailureKind.NOT_FOUND
    else:
        kind = FailureKind.HTTP
    return Classified(kind, status, detail)


class StreamError(Exception):
    """A stream the adapter itself found broken (an unnamed event, an in-stream error event).

    The message is already one line for people.
    """

    def __init__(self, message: str, kind: FailureKind, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
