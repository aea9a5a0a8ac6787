"""Ends a blocking stream at its deadline or on cancel, from outside the thread that reads it.

A thread blocked in a socket read wakes only when bytes arrive or the socket is shut down. A
server that sends keep-alives (`: ping`, Anthropic `ping` events, chunks without text) never
lets a deadline checked between text pieces come round, and a cancelled request on a stalled
connection would keep its thread and socket for good. So every sync SDK client is built with
`http_hooks()`, which note the sockets a request uses, and `stream_sync` reads through a
`Watch`: at the deadline, or within `CANCEL_POLL` of a cancel, one watchdog thread shuts those
sockets down. `shutdown`, not `close`: on Linux, closing a socket from another thread does not
wake a `recv` blocked on it. The read then returns at once, and the SDK's own clean-up closes
the connection and lets the worker thread end.

Both httpx and httpx2 (the SDKs use one or the other) pass the same public hooks: the request's
`trace` extension reports each new connection, and the response's `network_stream` extension
the connection a reused one came on. (So a reused connection whose server never sends headers
is ended by the SDK's own read timeout, set to the same N, not by a cancel. Clients are kept
and their connections opened before the clock (providers/clients.py), so most requests reuse
one.)
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from providers.failures import FailureKind

# How soon a cancel is noticed; deadlines are kept to the moment, without polling.
CANCEL_POLL = 0.05

T = TypeVar("T")
_current = threading.local()


class Watch:
    """One blocking request: when it must end, and the sockets to shut down when it does."""

    def __init__(self, deadline: float | None, cancel: threading.Event | None = None) -> None:
        self.deadline = deadline
        self.cancel = cancel
        # What ended the request from outside, and when (perf_counter); None while it runs.
        self.fired: FailureKind | None = None
        self.fired_at: float | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def __enter__(self) -> Watch:
        if self.deadline is not None or self.cancel is not None:
            _watchdog.add(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _watchdog.remove(self)
        with self._lock:
            self._sockets.clear()

    def pull(self, items: Iterator[T]) -> Iterator[T]:
        """`items`, with this watch current while each one is fetched (that is when an SDK
        sends its request and reads), so the hooks know whose sockets they see."""
        while True:
            outer = getattr(_current, "watch", None)
            _current.watch = self
            try:
                item = next(items)
            except StopIteration:
                return
            finally:
                _current.watch = outer
            yield item

    def due(self, now: float) -> FailureKind | None:
        if self.cancel is not None and self.cancel.is_set():
            return FailureKind.CANCELLED
        if self.deadline is not None and now >= self.deadline:
            return FailureKind.TIMEOUT
        return None

    def fire(self, kind: FailureKind, now: float) -> None:
        """End the request: shut down every socket it uses, now and from here on."""
        with self._lock:
            if self.fired is not None:
                return
            self.fired, self.fired_at = kind, now
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def add(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            if self.fired is None:
                if not any(s is sock for s in self._sockets):
                    self._sockets.append(sock)
                return
        _shut(sock)  # opened after the end: it must not start a read that nothing ends


def _shut(sock: socket.socket) -> None:
    # Already closed or never connected: nothing left to wake. The plain socket's method, also
    # for TLS: SSLSocket.shutdown would drop its SSL object under the reading thread's feet.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """One thread for every watch in flight; it exists only while there is one."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._watches: set[Watch] = set()
        self._thread: threading.Thread | None = None

    def add(self, watch: Watch) -> None:
        with self._cond:
            self._watches.add(watch)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="modelrace-watchdog", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def remove(self, watch: Watch) -> None:
        with self._cond:
            self._watches.discard(watch)
            self._cond.notify()

    def _run(self) -> None:
        with self._cond:
            while self._watches:
                now = time.perf_counter()
                for watch in list(self._watches):
                    kind = watch.due(now)
                    if kind is not None:
                        self._watches.discard(watch)
                        watch.fire(kind, now)
                self._cond.wait(self._sleep(time.perf_counter()))
            self._thread = None

    def _sleep(self, now: float) -> float | None:
        waits = [w.deadline - now for w in self._watches if w.deadline is not None]
        if any(w.cancel is not None for w in self._watches):
            waits.append(CANCEL_POLL)
        return max(0.0, min(waits)) if waits else None


_watchdog = _Watchdog()


def hurry(seconds: float) -> None:
    """Bring the deadline of the request this thread reads to at most `seconds` from now, for
    what is left once its answer is whole (a body's end after its end marker): a server that
    holds the body open must not hold the thread until the request's own deadline."""
    watch = getattr(_current, "watch", None)
    if watch is None:
        return
    soon = time.perf_counter() + seconds
    if watch.deadline is None or soon < watch.deadline:
        watch.deadline = soon
        _watchdog.add(watch)


def http_hooks() -> dict[str, list[Callable[[Any], None]]]:
    """`event_hooks` for an httpx or httpx2 client whose requests a `Watch` must be able to end."""
    return {"request": [_on_request], "response": [_on_response]}


def _on_request(request: Any) -> None:
    watch = getattr(_current, "watch", None)
    if watch is None:
        return
    outer = request.extensions.get("trace")

    def trace(name: str, info: dict[str, Any]) -> None:
        if name.endswith("connect_tcp.complete"):
            watch.add(_socket_of(info.get("return_value")))
        if outer is not None:
            outer(name, info)

    request.extensions["trace"] = trace


def _on_response(response: Any) -> None:
    watch = getattr(_current, "watch", None)
    if watch is not None:
        watch.add(_socket_of(response.extensions.get("network_stream")))


def _socket_of(stream: Any) -> socket.socket | None:
    get = getattr(stream, "get_extra_info", None)
    sock = get("socket") if get is not None else None
    return sock if isinstance(sock, socket.socket) else None
