"""The adapter shape shared by every provider, and the bookkeeping they all need.

A subclass only says how to build its SDK clients and how to turn that SDK's stream into
pieces (text, token counts, the end marker). Everything else lives here once: stamping,
timeouts, cancellation, turning exceptions into one-line failures, and noticing a stream that
stops before the provider said it was finished (no SDK raises for that).

What an exception means is decided from classes, never from message text: each adapter's
`classify` knows its SDK's exceptions, and `classify_transport` knows the HTTP and JSON
libraries' own, which every SDK lets through or wraps.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
import threading
import time
from collections.abc import AsyncGenerator, Generator
from contextlib import aclosing, closing
from dataclasses import dataclass
from typing import Any, ClassVar

from providers.catalog import BY_NAME
from providers.clients import ClientPool, PooledClient
from providers.environment import get_key, one_line
from providers.events import Event, Failed, Finished, Started, TextDelta, Usage
from providers.failures import Classified, FailureKind, StreamError
from providers.request import Request
from providers.spec import Spec
from providers.warmup import warm_async, warm_sync
from providers.watchdog import Watch

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
# Generators, not just iterators: the stream closes them to end a request early.
Pieces = Generator[Piece, None, None]
AsyncPieces = AsyncGenerator[Piece, None]


class MissingKey(Exception):
    def __init__(self, variable: str) -> None:
        super().__init__(f"{variable} is not set; export it or add it to .env")


class Adapter:
    """One model behind one spec, with a sync and an async stream of the same events."""

    # Shown while clients are built, for providers where that takes noticeable time.
    preparing_note: ClassVar[str | None] = None
    # The recipe in providers/warmup.py that pays the SDK's first-call costs before the clock.
    warmup: ClassVar[str | None] = None

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        # Its own pool until a runner (or the dashboard) hands it a shared one.
        self.clients = ClientPool()
        self._owns_clients = True
        # Which of its key's async clients this model uses; `prepare_clients` sets it from
        # the model's place in the race (providers/clients.py, MODELS_PER_CLIENT).
        self.shard = 0
        self._sync_client: PooledClient | None = None
        self._async_clients: dict[int, PooledClient] = {}
        self._prepare_error: Failed | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec}>"

    # --- what subclasses provide -------------------------------------------------------

    def make_sync_client(self, timeout: float | None) -> Any:
        raise NotImplementedError

    def make_async_client(self, timeout: float | None) -> Any:
        raise NotImplementedError

    def client_identity(self) -> tuple[str | None, str]:
        """(base URL, key): what, besides the SDK and the timeout, tells this provider's
        clients apart. Blocking: a simulator or llama.cpp server may start here."""
        provider = BY_NAME.get(self.spec.provider)
        variable = None if provider is None else provider.base_url_variable
        return (os.environ.get(variable) if variable else None), self.api_key()

    def prepare_model(self, concurrent: bool) -> None:
        """What this model needs before the clock besides a client (a replay registers its
        recording); blocking, called off the loop once per side kind."""

    def pieces_sync(self, client: Any, request: Request) -> Pieces:
        raise NotImplementedError

    def pieces_async(self, client: Any, request: Request) -> AsyncPieces:
        raise NotImplementedError

    def classify(self, exc: BaseException) -> Classified | None:
        """What this SDK's own exception classes say; None leaves it to `classify_transport`."""
        return None

    # --- failures ---------------------------------------------------------------------------

    def failure(self, exc: BaseException, request: Request | None = None) -> Failed:
        """The Failed event for an exception from this adapter's SDK."""
        found = self.classify(exc) or classify_transport(exc)
        return failure(exc, found, None if request is None else request.timeout)

    def _prepare_failed(self) -> Failed | None:
        if self._prepare_error is None:
            return None
        return dataclasses.replace(self._prepare_error, t=time.perf_counter())

    # --- keys and readiness -------------------------------------------------------------

    @property
    def key_variables(self) -> tuple[str, ...]:
        """Its provider's key variables, from the provider table (none for a keyless one)."""
        provider = BY_NAME.get(self.spec.provider)
        return () if provider is None else provider.key_variables

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

    # --- clients: ready before the clock starts, shared through `self.clients` -------------

    def share_clients(self, pool: ClientPool) -> None:
        """Take clients from `pool`, which its owner closes (a runner, or the dashboard)."""
        with self._lock:
            if pool is not self.clients:
                self.clients, self._owns_clients = pool, False
                self._sync_client = None
                self._async_clients.clear()

    def prepare_sync(self, timeout: float | None = None, *, connect: bool = True) -> None:
        """Import the SDK, get the sync client and (`connect`) a warm connection; blocking,
        so call it off the event loop. `prepare_clients` connects for many models at once."""
        pooled = None
        with self._lock:
            if self._sync_client is None and self._prepare_error is None:
                pooled = self._sync_client = self._build(None, timeout)
                if pooled is not None:
                    warm_sync(self)
        if pooled is not None and connect:
            self.clients.warm_sync(pooled, 1)

    def prepare_async(self, loop: asyncio.AbstractEventLoop, timeout: float | None = None) -> None:
        """Get the async client for `loop` (async clients must not cross event loops)."""
        with self._lock:
            if id(loop) not in self._async_clients and self._prepare_error is None:
                pooled = self._build(loop, timeout, self.shard)
                if pooled is not None:
                    warm_async(self)
                    self._async_clients[id(loop)] = pooled

    async def ready_async(self, timeout: float | None = None) -> None:
        """This loop's client built (on a worker thread) and connected (on the loop)."""
        loop = asyncio.get_running_loop()
        if id(loop) in self._async_clients or self._prepare_error is not None:
            return
        await asyncio.to_thread(self.prepare_async, loop, timeout)
        pooled = self.client_for(loop)
        if pooled is not None:
            await self.clients.warm_async(pooled, 1)

    def client_for(self, loop: asyncio.AbstractEventLoop | None) -> PooledClient | None:
        """The client this model streams with: sync (`loop` None) or async for `loop`."""
        if loop is None:
            return self._sync_client
        return self._async_clients.get(id(loop))

    def _build(
        self, loop: asyncio.AbstractEventLoop | None, timeout: float | None, shard: int = 0
    ) -> PooledClient | None:
        try:
            pooled = self.clients.get(self, timeout, loop, shard)
            self.prepare_model(concurrent=loop is not None)
            return pooled
        except MissingKey as exc:
            self._prepare_error = Failed(time.perf_counter(), str(exc), FailureKind.AUTH)
        except Exception as exc:
            self._prepare_error = self.failure(exc)
        return None

    # --- the two streams ----------------------------------------------------------------

    def stream_sync(
        self, request: Request, cancel: threading.Event | None = None
    ) -> Generator[Event, None, None]:
        """Events from the sync SDK client: real blocking I/O, as a sync run measures it.

        With `request.retries`, every attempt's events, a failed one ending in `Retrying`.
        """
        if not request.retries:
            yield from self._attempt_sync(request, cancel)
            return
        from providers.retry import with_retries_sync

        def attempt() -> Generator[Event, None, None]:
            if cancel is not None and cancel.is_set():  # stopped while waiting: send nothing
                yield Failed(time.perf_counter(), "cancelled", FailureKind.CANCELLED)
                return
            yield from self._attempt_sync(request, cancel)

        yield from with_retries_sync(attempt, request.retries)

    async def stream_async(self, request: Request) -> AsyncGenerator[Event, None]:
        """Events from the async SDK client; cancelling the consumer cancels the request.

        With `request.retries`, every attempt's events, a failed one ending in `Retrying`.
        """
        if not request.retries:
            async with aclosing(self._attempt_async(request)) as events:
                async for event in events:
                    yield event
            return
        from providers.retry import with_retries_async

        async with aclosing(
            with_retries_async(lambda: self._attempt_async(request), request.retries)
        ) as events:
            async for event in events:
                yield event

    def _attempt_sync(
        self, request: Request, cancel: threading.Event | None = None
    ) -> Generator[Event, None, None]:
        self.prepare_sync(request.timeout)
        yield Started(time.perf_counter())
        if (failed := self._prepare_failed()) is not None:
            yield failed
            return
        pooled = self._sync_client
        assert pooled is not None
        finished = False
        pooled.begin()
        try:
            with closing(self._pull_sync(pooled.sdk, request, cancel)) as events:
                for event in events:
                    finished = finished or isinstance(event, Finished)
                    yield event
        finally:
            pooled.end(finished)  # a finished answer gave its connection back

    def _pull_sync(
        self, client: Any, request: Request, cancel: threading.Event | None
    ) -> Generator[Event, None, None]:
        deadline = _deadline(request)
        finished = False
        # The watch ends a read blocked past the deadline or a cancel (providers/watchdog.py).
        watch = Watch(deadline, cancel)
        try:
            with watch, closing(self.pieces_sync(client, request)) as pieces:
                for piece in watch.pull(pieces):
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
            yield _ended_by(watch, request) or self.failure(exc, request)
            return
        if not finished:
            yield _ended_by(watch, request) or Failed(
                time.perf_counter(), INCOMPLETE, FailureKind.DROPPED
            )

    async def _attempt_async(self, request: Request) -> AsyncGenerator[Event, None]:
        loop = asyncio.get_running_loop()
        await self.ready_async(request.timeout)
        yield Started(time.perf_counter())
        if (failed := self._prepare_failed()) is not None:
            yield failed
            return
        pooled = self._async_clients[id(loop)]
        finished = False
        pooled.begin()
        try:
            async with aclosing(self._pull_async(pooled.sdk, request, loop)) as events:
                async for event in events:
                    finished = finished or isinstance(event, Finished)
                    yield event
        finally:
            pooled.end(finished)

    async def _pull_async(
        self, client: Any, request: Request, loop: asyncio.AbstractEventLoop
    ) -> AsyncGenerator[Event, None]:
        deadline = _deadline(request)
        finished = False
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
                    yield self.failure(exc, request)
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

    def close_sync_client(self, client: Any) -> None:
        client.close()

    async def aclose(self) -> None:
        """Let go of this loop's async client; closed here when the pool is this adapter's
        own (a shared pool is closed by its owner). Call it from the loop that used it."""
        self._async_clients.pop(id(asyncio.get_running_loop()), None)
        if self._owns_clients:
            await self.clients.aclose()

    def close(self) -> None:
        """Let go of every client (closing sync ones of an own pool); the next run gets its
        clients again."""
        with self._lock:
            self._sync_client = None
            self._async_clients.clear()
            self._prepare_error = None
        if self._owns_clients:
            self.clients.close()


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
    return _timeout_message(request.timeout)


def _timeout_message(timeout: float | None) -> str:
    return f"timed out after {timeout:g} s"


def _ended_by(watch: Watch, request: Request) -> Failed | None:
    """The failure a stream cut short by its watch ends with, stamped when it was cut."""
    if watch.fired is FailureKind.TIMEOUT:
        return Failed(watch.fired_at or time.perf_counter(), _timed_out(request), watch.fired)
    if watch.fired is FailureKind.CANCELLED:
        return Failed(watch.fired_at or time.perf_counter(), "cancelled", watch.fired)
    return None


def failure(
    exc: BaseException, found: Classified | None = None, timeout: float | None = None
) -> Failed:
    """The one way an exception becomes a Failed event (adapters, races, pipeline steps).

    `found` is what the adapter made of it (else the transport default); `timeout` words a
    timeout by the deadline the user set.
    """
    found = found or classify_transport(exc)
    if found.kind is FailureKind.TIMEOUT and timeout is not None:
        message = _timeout_message(timeout)
    else:
        message = describe_error(exc, found)
    after = None
    if found.kind in (FailureKind.RATE_LIMITED, FailureKind.HTTP):
        from providers.retry import retry_after

        after = retry_after(exc)
    return Failed(time.perf_counter(), message, found.kind, found.status, after)


def classify_transport(exc: BaseException) -> Classified:
    """The default: what the HTTP (httpx, httpx2) and JSON libraries' classes say.

    Looks down the cause chain, since SDKs wrap transport errors in generic ones. A library
    that was never imported cannot have raised, so nothing is imported here.
    """
    for error in _chain(exc):
        if isinstance(error, StreamError):
            return Classified(error.kind, error.status)
        if isinstance(error, json.JSONDecodeError):
            return Classified(FailureKind.MALFORMED)
        for name in ("httpx2", "httpx"):
            http = sys.modules.get(name)
            if http is None:
                continue
            if isinstance(error, http.TimeoutException):
                return Classified(FailureKind.TIMEOUT)
            if isinstance(error, (http.RemoteProtocolError, http.ReadError)):
                return Classified(FailureKind.DROPPED)
            if isinstance(error, http.TransportError):
                return Classified(FailureKind.CONNECTION)
        if isinstance(error, TimeoutError):
            return Classified(FailureKind.TIMEOUT)
        if isinstance(error, ConnectionError):
            return Classified(FailureKind.CONNECTION)
    return Classified(FailureKind.OTHER)


def describe_error(exc: BaseException, found: Classified | None = None) -> str:
    """One line naming what went wrong, with any HTTP status first and keys scrubbed.

    SDKs wrap transport errors in generic ones ("Connection error."); the innermost cause
    says what actually happened, so it is added when it says something new.
    """
    found = found or classify_transport(exc)
    chain = _chain(exc)
    if found.status is not None:
        return one_line(f"HTTP {found.status}: {found.detail or exc}")
    if found.detail:
        return one_line(found.detail)
    if type(exc).__module__.startswith("providers."):
        return one_line(str(exc))  # our own errors are already worded for the user
    if found.kind is FailureKind.MALFORMED:
        bad = next((e for e in chain if isinstance(e, json.JSONDecodeError)), chain[-1])
        return one_line(f"malformed chunk in the response ({bad})")
    if found.kind is FailureKind.DROPPED:
        return one_line(f"connection dropped before the answer was complete ({chain[-1]})")
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


def error_message(body: object) -> str | None:
    """The provider's own words from a JSON error body (`{"error": {"message": …}}` and kin)."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return inner["message"]
        if isinstance(inner, str):
            return inner
    if isinstance(body, str) and body:
        return body
    return None
