"""What kind of failure ended a result: decided from exception classes, never message text.

The message on a failure is for people and may change with an SDK release; the kind is for
programs (JSON, the run store, the state machine) and must not.
"""

from __future__ import annotations

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
