"""`--retries N`: a 429, a 5xx or a connection error tried again, every attempt in the record.

Backoff (exponential, with jitter) and the attempt count are stamina's; a server's
`Retry-After` replaces the backoff through stamina's backoff hook. Only an attempt that failed
before any text is retried: one that had streamed part of an answer cannot be replayed
without showing the user text twice. Each failed attempt reaches the result as a `Retrying`
event, so the timeline draws it and the result counts it; the next attempt starts with its
own `Started`, while TTFT and end-to-end time still run from the first attempt.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from contextlib import aclosing, closing

import stamina
import stamina.instrumentation

from providers.events import Event, Failed, Retrying, TextDelta
from providers.failures import FailureKind

# Backoff between attempts when the server does not say: 0.5 s, 1 s, 2 s… up to 8 s, each
# plus up to 0.5 s of jitter so many clients do not retry in step.
WAIT_INITIAL_S = 0.5
WAIT_MAX_S = 8.0
WAIT_JITTER_S = 0.5
# A server asking for longer than this is not worth waiting for in a race.
MAX_RETRY_AFTER_S = 60.0


# Attempts are shown in the record itself; stamina's default logging would write to the
# terminal under the dashboard.
stamina.instrumentation.set_on_retry_hooks([])


class _Retry(Exception):
    """Raised into stamina to say: this attempt failed and may be tried again."""

    def __init__(self, failed: Failed) -> None:
        super().__init__(failed.error)
        self.failed = failed


def retryable(failed: Failed) -> bool:
    """429, 5xx and connection errors: what a later attempt may well get past."""
    if failed.kind in (FailureKind.RATE_LIMITED, FailureKind.CONNECTION):
        return True
    return failed.kind is FailureKind.HTTP and failed.status is not None and failed.status >= 500


def _backoff(exc: Exception) -> bool | float:
    if not isinstance(exc, _Retry):
        return False
    after = exc.failed.retry_after
    return True if after is None else min(max(after, 0.0), MAX_RETRY_AFTER_S)


def _attempts(retries: int) -> stamina._core._RetryContextIterator:
    return stamina.retry_context(
        on=_backoff,
        attempts=retries + 1,
        timeout=None,
        wait_initial=WAIT_INITIAL_S,
        wait_max=WAIT_MAX_S,
        wait_jitter=WAIT_JITTER_S,
    )


def _verdict(event: Event, streamed: bool, last: bool) -> Failed | None:
    """The failure to retry, when `event` is one and this attempt may be tried again."""
    if isinstance(event, Failed) and not streamed and not last and retryable(event):
        return event
    return None


def _retrying(failed: Failed) -> Retrying:
    return Retrying(failed.t, failed.error, failed.kind, failed.status)


def with_retries_sync(
    attempt: Callable[[], Generator[Event, None, None]], retries: int
) -> Generator[Event, None, None]:
    """Every attempt's events; a retryable failure becomes `Retrying` and stamina waits."""
    for turn in _attempts(retries):
        failed = None
        streamed = False
        with closing(attempt()) as events:
            for event in events:
                streamed = streamed or isinstance(event, TextDelta)
                failed = _verdict(event, streamed, turn.num > retries)
                if failed is not None:
                    yield _retrying(failed)
                    break
                yield event
        # Nothing is yielded inside the attempt: a consumer that stops reading must not
        # look like a failed attempt to stamina.
        with turn:
            if failed is not None:
                raise _Retry(failed)


async def with_retries_async(
    attempt: Callable[[], AsyncGenerator[Event, None]], retries: int
) -> AsyncGenerator[Event, None]:
    """The async twin of `with_retries_sync`; stamina's wait is an `asyncio.sleep`."""
    async for turn in _attempts(retries):
        failed = None
        streamed = False
        async with aclosing(attempt()) as events:
            async for event in events:
                streamed = streamed or isinstance(event, TextDelta)
                failed = _verdict(event, streamed, turn.num > retries)
                if failed is not None:
                    yield _retrying(failed)
                    break
                yield event
        with turn:
            if failed is not None:
                raise _Retry(failed)


def retry_after(exc: BaseException) -> float | None:
    """Seconds from an HTTP response's `retry-after-ms` or `Retry-After` (seconds or a date),
    found on the exception or its causes (every SDK keeps the response on its errors)."""
    seen: list[BaseException] = []
    error: BaseException | None = exc
    while error is not None and error not in seen:
        seen.append(error)
        headers = getattr(getattr(error, "response", None), "headers", None)
        if headers is not None and hasattr(headers, "get"):
            found = _from_headers(headers)
            if found is not None:
                return found
        error = error.__cause__ or error.__context__
    return None


def _from_headers(headers: Mapping[str, str]) -> float | None:
    get = headers.get
    try:
        ms = get("retry-after-ms")
        if ms is not None:
            return max(float(ms) / 1000, 0.0)
        value = get("retry-after")
        if value is None:
            return None
        try:
            return max(float(value), 0.0)
        except ValueError:
            when = email.utils.parsedate_to_datetime(str(value))
            return max(when.timestamp() - time.time(), 0.0)
    except (TypeError, ValueError, OverflowError):
        return None
