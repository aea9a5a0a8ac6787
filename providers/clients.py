"""SDK clients built once per (provider, base URL, key, timeout) and kept while they serve.

Built afresh per model and race, clients and their connections were paid for on every Enter
(about 70 ms at 32 models in the dashboard) and held per model. Models that share a provider,
an endpoint and a key share one client (up to MODELS_PER_CLIENT of them for an async one; its
connection pool holds a connection per stream in flight), and a pool kept by the caller (the
dashboard keeps one for the process) gives the next race the same clients, connections still
open. Async clients belong to the event loop they were built for.

Fairness: a race's clock starts only once its clients hold as many warm connections as the side
can use at once. A client whose streams all ended cleanly moments ago still holds them, so it
is not warmed again; one that failed, was cancelled or sat idle near the HTTP library's keep-
alive expiry is.

The key is part of what tells clients apart but only as a hash: nothing here keeps, prints or
logs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from providers import warmup

if TYPE_CHECKING:
    from providers.base import Adapter

# Models of one provider, endpoint and key that share an async client, at most. The HTTP
# library looks at every connection of a client (a poll each, for idle ones) whenever a request
# starts or ends: one client for 256 streams made a race 40% slower than a client each.
MODELS_PER_CLIENT = 8
# Idle keep-alive connections are dropped after 5 s by httpx and httpx2 (aiohttp: 15 s);
# a connection idle for less than this is trusted to be there for the next request.
FRESH_S = 4.0


@dataclass(frozen=True, slots=True)
class ClientKey:
    """What makes two clients different. `key_hash` is a digest: the key itself is not kept."""

    kind: str  # "sync" or "async"
    maker: str  # the adapter class whose factory builds it (one SDK, one set of arguments)
    base_url: str | None
    key_hash: str
    timeout: float | None
    shard: int = 0  # which of the async clients for these models (see MODELS_PER_CLIENT)


@dataclass(frozen=True, slots=True)
class PoolStats:
    built_sync: int
    built_async: int
    open: int
    closed: int
    warm_calls: int  # free calls made to open connections


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


class PooledClient:
    """One SDK client and what is known about its warm connections."""

    def __init__(
        self, key: ClientKey, sdk: Any, adapter: Adapter, loop: asyncio.AbstractEventLoop | None
    ) -> None:
        self.key = key
        self.sdk = sdk
        self.loop = loop
        self.closed = False
        self.closer = adapter  # knows how its SDK's clients are closed
        self.recipe = adapter.warmup
        self.warming_sync = threading.Lock()
        self.warming_async: asyncio.Lock | None = None
        self._lock = threading.Lock()
        # Connections trusted warm, and since when the oldest of them has been idle.
        self._ready = 0
        self._idle_since = -math.inf
        # The streams in flight now, and what the current burst of them has shown.
        self._active = 0
        self._peak = 0
        self._first_end = math.inf
        self._failed = False
        # Closed while a stream still read from it: closed when that stream ends instead.
        self._close_when_idle = False

    def __repr__(self) -> str:
        k = self.key
        return f"<PooledClient {k.kind} {k.maker} {k.base_url or 'default'} timeout={k.timeout}>"

    def begin(self) -> None:
        """A stream starts on this client."""
        with self._lock:
            if self._active == 0:
                self._peak, self._first_end, self._failed = 0, math.inf, False
            self._active += 1
            self._peak = max(self._peak, self._active)

    def end(self, ok: bool) -> None:
        """A stream ended; `ok` when it ended cleanly and so gave its connection back.

        When the burst is over, every connection the pool held was used in it (the pool hands
        out idle ones first), so the first stream to end dates the oldest idle connection.
        """
        now = time.perf_counter()
        with self._lock:
            self._active -= 1
            self._first_end = min(self._first_end, now)
            self._failed = self._failed or not ok
            if self._active == 0:
                self._ready = 0 if self._failed else self._peak
                self._idle_since = self._first_end
            close_now = self._active == 0 and self._close_when_idle
        if close_now:
            _close_sync(self)

    def close_when_idle(self) -> bool:
        """Close now if no stream reads from this client; else when the last one ends. True
        when closed now.

        A cancelled race returns before its sync thread's read has ended, and the watchdog
        ends that read by shutting its socket down: closing the socket first (as closing the
        client does) would leave the read blocked, since a closed socket cannot be shut down.
        """
        with self._lock:
            if self._active > 0:
                self._close_when_idle = True
                return False
        _close_sync(self)
        return True

    def needs_warming(self, connections: int) -> bool:
        with self._lock:
            stale = time.perf_counter() - self._idle_since >= FRESH_S
            return stale or self._ready < connections

    def warmed(self, opened: int) -> None:
        with self._lock:
            self._ready = opened
            self._idle_since = time.perf_counter()


class ClientPool:
    """Clients by `ClientKey` (and event loop, for async ones), built on first need.

    `get` blocks (an SDK import, a sim or llama.cpp server starting): call it off the loop.
    """

    def __init__(self) -> None:
        self._clients: dict[tuple[ClientKey, int | None], PooledClient] = {}
        self._building: dict[tuple[ClientKey, int | None], threading.Lock] = {}
        self._lock = threading.Lock()
        self._built: Counter[str] = Counter()
        self._closed = 0
        self._warm_calls = 0

    # --- getting one ----------------------------------------------------------------------

    def get(
        self,
        adapter: Adapter,
        timeout: float | None,
        loop: asyncio.AbstractEventLoop | None = None,
        shard: int = 0,
    ) -> PooledClient:
        """The client `adapter` needs: sync, or async for `loop`; built when none fits."""
        kind = "sync" if loop is None else "async"
        base_url, key = adapter.client_identity()
        maker = _maker(type(adapter), kind)
        client_key = ClientKey(kind, maker, base_url, key_hash(key), timeout, shard)
        ident = (client_key, _loop_id(loop))
        with self._lock:
            found = self._clients.get(ident)
            if found is not None:
                return found
            building = self._building.setdefault(ident, threading.Lock())
        with building:  # one build per key; a second caller waits for the first
            with self._lock:
                found = self._clients.get(ident)
            if found is not None:
                return found
            factory = adapter.make_sync_client if loop is None else adapter.make_async_client
            pooled = PooledClient(ident[0], factory(timeout), adapter, loop)
            with self._lock:
                self._clients[ident] = pooled
                self._built[kind] += 1
            return pooled

    def clients(self) -> list[Any]:
        """The SDK clients open now, oldest first."""
        with self._lock:
            return [p.sdk for p in self._clients.values()]

    def stats(self) -> PoolStats:
        with self._lock:
            return PoolStats(
                built_sync=self._built["sync"],
                built_async=self._built["async"],
                open=len(self._clients),
                closed=self._closed,
                warm_calls=self._warm_calls,
            )

    # --- warm connections, before a clock starts --------------------------------------------

    def warm_sync(self, pooled: PooledClient, connections: int) -> None:
        """Open `connections` connections on a sync client (blocking), unless it has them."""
        recipe = warmup.RECIPES.get(pooled.recipe or "")
        if recipe is None:
            return
        with pooled.warming_sync:
            if not pooled.needs_warming(connections):
                return
            self._count_calls(connections)
            if connections == 1:
                opened = int(warmup.open_sync(recipe, pooled.sdk))
            else:
                barrier = threading.Barrier(connections)
                calls = [
                    _Call(barrier, warmup.open_sync, recipe, pooled.sdk) for _ in range(connections)
                ]
                for call in calls:
                    call.start()
                opened = sum(call.result() for call in calls)
            pooled.warmed(opened)

    async def warm_async(self, pooled: PooledClient, connections: int) -> None:
        """Open `connections` connections on an async client, on its loop, unless it has them.

        Concurrent calls, so each holds a connection of its own while the others open theirs.
        """
        recipe = warmup.RECIPES.get(pooled.recipe or "")
        if recipe is None:
            return
        if pooled.warming_async is None:
            pooled.warming_async = asyncio.Lock()
        async with pooled.warming_async:
            if not pooled.needs_warming(connections):
                return
            self._count_calls(connections)
            calls = [warmup.open_async(recipe, pooled.sdk) for _ in range(connections)]
            opened = sum(await asyncio.gather(*calls))
            pooled.warmed(opened)

    def _count_calls(self, n: int) -> None:
        with self._lock:
            self._warm_calls += n

    # --- closing ---------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close every client: async ones of this loop on it, sync ones in a worker thread.

        Async clients of a loop that is gone cannot be closed any more; they are dropped.
        """
        loop = asyncio.get_running_loop()
        with self._lock:
            mine = [p for p in self._clients.values() if p.loop is loop]
            sync = [p for p in self._clients.values() if p.loop is None]
            self._forget([*mine, *sync, *self._orphans()])
        await asyncio.gather(*(_aclose(p) for p in mine))
        if sync:
            await asyncio.to_thread(_close_all, sync)

    def close(self) -> None:
        """Close the sync clients and drop async ones whose loop has closed (no loop needed)."""
        with self._lock:
            sync = [p for p in self._clients.values() if p.loop is None]
            self._forget([*sync, *self._orphans()])
        _close_all(sync)

    def _orphans(self) -> list[PooledClient]:
        return [p for p in self._clients.values() if p.loop is not None and p.loop.is_closed()]

    def _forget(self, gone: list[PooledClient]) -> None:
        for pooled in gone:
            if self._clients.pop((pooled.key, _loop_id(pooled.loop)), None) is not None:
                pooled.closed = True
                self._closed += 1


class _Call(threading.Thread):
    """A blocking free call on a thread of its own, holding its connection (in the client's
    response hook, see `sync_hooks`) until every call of the barrier holds one."""

    def __init__(self, barrier: threading.Barrier, work: Any, *args: Any) -> None:
        super().__init__(daemon=True)
        self._barrier, self._work, self._args, self._ok = barrier, work, args, False

    def run(self) -> None:
        _warming.barrier = self._barrier
        try:
            self._ok = bool(self._work(*self._args))
        finally:
            _warming.barrier = None

    def result(self) -> int:
        self.join()
        return int(self._ok)


_warming = threading.local()


def sync_hooks(hooks: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """`event_hooks` for a sync client: `hooks`, and one that keeps a warm-up call's
    connection (its response's headers are in, its body not yet read) until the other calls
    opening connections at the same time have theirs, so none reuses another's."""
    return {**hooks, "response": [*hooks.get("response", []), _hold]}


def _hold(_response: Any) -> None:
    barrier = getattr(_warming, "barrier", None)
    if barrier is not None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=warmup.CONNECT_TIMEOUT_S)


def limits(http: Any) -> Any:
    """Connection limits for a shared client (`http` is the httpx or httpx2 module): as many
    connections as streams in flight, all kept between races (the libraries keep 20 or 100)."""
    return http.Limits(max_connections=None, max_keepalive_connections=None)


def _maker(cls: type, kind: str) -> str:
    method = "make_sync_client" if kind == "sync" else "make_async_client"
    owner = next((c for c in cls.__mro__ if method in vars(c)), cls)
    return f"{owner.__module__}.{owner.__qualname__}"


def _loop_id(loop: asyncio.AbstractEventLoop | None) -> int | None:
    return None if loop is None else id(loop)


async def _aclose(pooled: PooledClient) -> None:
    with contextlib.suppress(Exception):
        await pooled.closer.close_async_client(pooled.sdk)


def _close_all(clients: list[PooledClient]) -> None:
    for pooled in clients:
        pooled.close_when_idle()


def _close_sync(pooled: PooledClient) -> None:
    with contextlib.suppress(Exception):
        pooled.closer.close_sync_client(pooled.sdk)
