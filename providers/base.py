"""The adapter shape shared by every provider, and the bookkeeping they all need.

A subclass only says how to build its SDK clients and how to turn that SDK's stream into
pieces (text, token counts, the end marker). Everything else lives here once: stamping,
timeouts, cancellation, turning exceptions into one-line failures, and noticing a stream that
stops before the provider said it was finished (no SDK raises for that).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing, closing
from dataclasses import dataclass
from typing import Any, ClassVar

from providers.environment import get_key, one_line
from providers.events import Event, Failed, Finished, Started, TextDelta, Usage
from providers.failures import FailureKind
from providers.request import Request
from providers.spec import Spec
from providers.warmup import warm_async, warm_sync

INCOMPLETE = "stream ended before the provider said it was finished (connection dropped?)"


@dataclass(frozen=True, slots=True)
class Tokens:
    """Token counts from the API's own usage report."""

    input: int | None
    output: int | None


@dataclass(frozen=True, slots=True)
class Done:
    """The provider's end-of-answer marker."""

    reason: str | None = None


Piece = str | Tokens | Done


class MissingKey(Exception):
    def __init__(self, variable: str) -> None:
        super().__init__(f"{variable} is not set; export it or add it to .env")


class Adapter:
    """One model behind one spec, with a sync and an async stream of the same events."""

    provider: ClassVar[str] = ""
    # Any one of these variables is enough; the first is the one named when all are missing.
    key_variables: ClassVar[tuple[str, ...]] = ()
    # Shown while clients are built, for providers where that takes noticeable time.
    preparing_note: ClassVar[str | None] = None
    # The recipe in providers/warmup.py that pays the SDK's first-call costs before the clock.
    warmup: ClassVar[str | None] = None

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self._sync_client: Any = None
        self._async_clients: dict[int, Any] = {}
        self._prepare_error: str | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec}>"

    # --- what subclasses provide -------------------------------------------------------

    def make_sync_client(self, timeout: float | None) -> Any:
        raise NotImplementedError

    def make_async_client(self, timeout: float | None) -> Any:
        raise NotImplementedError

    def pieces_sync(self, client: Any, request: Request) -> Iterator[Piece]:
        raise NotImplementedError

    def pieces_async(self, client: Any, request: Request) -> AsyncIterator[Piece]:
        raise NotImplementedError

    # --- keys and readiness -------------------------------------------------------------

    def api_key(self) -> str:
        """The key from the environment, or MissingKey naming the variable to set."""
        if not self.key_variables:
            return ""
        key = get_key(*self.key_variables)
        if key is None:
            raise MissingKey(self.key_variables[0])
        return key

    def spec_problem(self) -> str | None:
        """What is wrong with the model name itself, known without any I/O, or None."""
        return None

    def problem(self) -> str | None:
        """Why this model cannot be used right now, or None (may look at disk or network)."""
        spec_problem = self.spec_problem()
        if spec_problem:
            return spec_problem
        try:
            self.api_key()
        except MissingKey as exc:
            return str(exc)
        return None

    # --- clients: built before the clock starts, reused within a run --------------------

    def prepare_sync(self, timeout: float | None = None) -> None:
        """Import the SDK and build the sync client; blocking, so call it off the event loop."""
        with self._lock:
            if self._sync_client is None and self._prepare_error is None:
                self._sync_client = self._build(self.make_sync_client, timeout)
                if self._sync_client is not None:
                    warm_sync(self, self._sync_client)

    def prepare_async(self, loop: asyncio.AbstractEventLoop, timeout: float | None = None) -> None:
        """Build the async client for `loop` (async clients must not cross event loops)."""
        with self._lock:
            if id(loop) not in self._async_clients and self._prepare_error is None:
                client = self._build(self.make_async_client, timeout)
                if client is not None:
                    warm_async(self, client, loop)
                    self._async_clients[id(loop)] = client

    def _build(self, factory: Any, timeout: float | None) -> Any:
        try:
            return factory(timeout)
        except MissingKey as exc:
            self._prepare_error = str(exc)
        except Exception as exc:
            self._prepare_error = describe_error(exc)
        return None

    # --- the two streams ----------------------------------------------------------------

    def stream_sync(
        self, request: Request, cancel: threading.Event | None = None
    ) -> Iterator[Event]:
        """Events from the sync SDK client: real blocking I/O, as a sync run measures it."""
        self.prepare_sync(request.timeout)
        yield Started(time.perf_counter())
        if self._prepare_error is not None:
            yield Failed(time.perf_counter(), self._prepare_error)
            return
        deadline = _deadline(request)
        finished = False
        try:
            with closing(self.pieces_sync(self._sync_client, request)) as pieces:
                for piece in pieces:
                    now = time.perf_counter()
                    if cancel is not None and cancel.is_set():
                        yield Failed(now, "cancelled", FailureKind.CANCELLED)
                        return
                    if deadline is not None and now > deadline:
                        yield Failed(now, _timed_out(request), FailureKind.TIMEOUT)
                        return
                    event = _stamp(piece, now)
                    finished = finished or isinstance(event, Finished)
                    if event is not None:
                        yield event
        except Exception as exc:
            yield Failed(time.perf_counter(), _reason(exc, request))
            return
        if not finished:
            yield Failed(time.perf_counter(), INCOMPLETE, FailureKind.DROPPED)

    async def stream_async(self, request: Request) -> AsyncIterator[Event]:
        """Events from the async SDK client; cancelling the consumer cancels the request."""
        loop = asyncio.get_running_loop()
        if id(loop) not in self._async_clients and self._prepare_error is None:
            await asyncio.to_thread(self.prepare_async, loop, request.timeout)
        yield Started(time.perf_counter())
        if self._prepare_error is not None:
            yield Failed(time.perf_counter(), self._prepare_error)
            return
        deadline = _deadline(request)
        finished = False
        client = self._async_clients[id(loop)]
        async with aclosing(self.pieces_async(client, request)) as pieces:
            while True:
                try:
                    # Only the pull sits under the timeout, never the yield: a deadline must
                    # not fire inside the consumer's own code.
                    async with asyncio.timeout_at(_loop_time(loop, deadline)):
                        piece = await anext(pieces)
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    yield Failed(time.perf_counter(), _timed_out(request), FailureKind.TIMEOUT)
                    return
                except Exception as exc:
                    yield Failed(time.perf_counter(), _reason(exc, request))
                    return
                event = _stamp(piece, time.perf_counter())
                finished = finished or isinstance(event, Finished)
                if event is not None:
                    yield event
        if not finished:
            yield Failed(time.perf_counter(), INCOMPLETE, FailureKind.DROPPED)

    async def close_async_client(self, client: Any) -> None:
        """Close an async client while its loop still runs (else httpx complains at exit)."""
        await client.close()

    async def aclose(self) -> None:
        """Close this loop's async client; call it from the loop that used it."""
        client = self._async_clients.pop(id(asyncio.get_running_loop()), None)
        if client is not None:
            with contextlib.suppress(Exception):
                await self.close_async_client(client)

    def close(self) -> None:
        """Drop clients; the next run builds fresh ones."""
        with self._lock:
            self._sync_client = None
            self._async_clients.clear()
            self._prepare_error = None


def _stamp(piece: Piece, now: float) -> Event | None:
    if isinstance(piece, str):
        return TextDelta(now, piece) if piece else None
    if isinstance(piece, Tokens):
        return Usage(now, piece.input, piece.output)
    return Finished(now, piece.reason)


def _deadline(request: Request) -> float | None:
    return None if request.timeout is None else time.perf_counter() + request.timeout


def _loop_time(loop: asyncio.AbstractEventLoop, deadline: float | None) -> float | None:
    if deadline is None:
        return None
    return loop.time() + (deadline - time.perf_counter())


def _timed_out(request: Request) -> str:
    return f"timed out after {request.timeout:g} s"


def _reason(exc: BaseException, request: Request) -> str:
    if request.timeout is not None and "timeout" in type(exc).__name__.lower():
        return _timed_out(request)
    return describe_error(exc)


def describe_error(exc: BaseException) -> str:
    """One line naming what went wrong, with any HTTP status first and keys scrubbed.

    SDKs wrap transport errors in generic ones ("Connection error."); the innermost cause
    says what actually happened, so it is added when it says something new.
    """
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int):
        status = getattr(exc, "code", None)
    if isinstance(status, int) and status > 0:
        return one_line(f"HTTP {status}: {_status_message(exc)}")
    if type(exc).__module__.startswith("providers."):
        return one_line(str(exc))  # our own errors are already worded for the user
    chain = _chain(exc)
    bad_json = next((e for e in chain if isinstance(e, json.JSONDecodeError)), None)
    if bad_json is not None:
        return one_line(f"malformed chunk in the response ({bad_json})")
    if any("peer closed connection" in str(e) for e in chain):
        return one_line(f"connection dropped mid-answer ({chain[-1]})")
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    inner = str(chain[-1])
    if len(chain) > 1 and inner and inner not in text:
        text = f"{text} ({inner})"
    return one_line(text)


def _chain(exc: BaseException) -> list[BaseException]:
    chain = [exc]
    while (nxt := chain[-1].__cause__ or chain[-1].__context__) and nxt not in chain:
        chain.append(nxt)
    return chain


def _status_message(exc: BaseException) -> str:
    """The provider's own words from an error body, without the SDK's boilerplate."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return inner["message"]
        if isinstance(inner, str):
            return inner
    for attr in ("error", "message"):
        value = getattr(exc, attr, None)
        if isinstance(value, str) and value:
            return value.removeprefix(f"Error code: {getattr(exc, 'status_code', '')} - ")
    return str(exc)
