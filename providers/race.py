"""The race engine: one prompt over many models, in a chosen mode, measured honestly.

Fairness rules, the same for every mode: clients are ready (SDKs imported, servers started,
as many connections open as the side uses at once) before a run's clock starts, and reused
for every request; a pool handed in by the caller keeps them for the next race too. A model's
failure is recorded in its own result and never cancels, delays or hides another.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

from providers import heap
from providers.base import Adapter, failure
from providers.clients import MODELS_PER_CLIENT, ClientPool, PooledClient
from providers.echo import quote
from providers.looplag import LagProbe
from providers.record import Result, Run, State
from providers.request import FollowUp, Request

MODE_NAMES = ("sync", "async", "both", "threads", "blocking", "all", "limit=N")
# `all`: the whole lesson in one race, slowest shape first.
ALL_SIDES = ("sync", "blocking", "threads", "async")
R = TypeVar("R")
RunT = TypeVar("RunT", bound=Run[Any])


class ModeError(ValueError):
    """An unknown or malformed run mode."""


@dataclass(frozen=True, slots=True)
class Mode:
    name: str
    limit: int | None = None

    def __str__(self) -> str:
        return f"limit={self.limit}" if self.name == "limit" else self.name

    def sides(self) -> tuple[Mode, ...]:
        """`both` is a sync run followed by an async run of the same models; `all` is every
        shape in turn: sync, blocking, threads, async."""
        if self.name == "both":
            return (Mode("sync"), Mode("async"))
        if self.name == "all":
            return tuple(Mode(name) for name in ALL_SIDES)
        return (self,)

    @property
    def concurrent(self) -> bool:
        return self.name != "sync"


def parse_mode(text: str) -> Mode:
    raw = text.strip().lower()
    if raw in ("sync", "async", "both", "threads", "blocking", "all"):
        return Mode(raw)
    name, sep, value = raw.partition("=")
    if name == "limit" and sep:
        try:
            limit = int(value)
        except ValueError:
            raise ModeError(f"bad mode {quote(text)}: limit needs a number, e.g. limit=2") from None
        if limit < 1:
            raise ModeError(f"bad mode {quote(text)}: limit must be at least 1")
        return Mode("limit", limit)
    raise ModeError(f"unknown mode {quote(text)}; choose one of {', '.join(MODE_NAMES)}")


def default_pool_size() -> int:
    """Python's default executor size, which is what `asyncio.to_thread` gets."""
    return min(32, (os.cpu_count() or 1) + 4)


class Runner(Generic[RunT]):
    """What a race and a pipeline share: runs that exist (and fill live) before they start,
    one side after another, cancellation from any thread, and nothing left open after.

    Subclasses build clients in `_prepare` and run one side in `_run_sync` or
    `_run_concurrent`; the clock of a side starts only after its preparation.

    Clients come from `clients` when given, which its owner closes (the dashboard keeps one
    pool for its life); else from a pool of this runner's own, closed when `run` ends. Either
    way every side of the run shares them.
    """

    def __init__(
        self,
        mode: Mode,
        runs: list[RunT],
        adapters: Iterable[Adapter],
        clients: ClientPool | None = None,
    ) -> None:
        self.mode = mode
        self.runs = runs
        self._clients_of = list(adapters)
        self.clients = ClientPool() if clients is None else clients
        self._owns_clients = clients is None
        for adapter in self._clients_of:
            adapter.share_clients(self.clients)
        self._cancel = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Future[None]] = set()
        self._probe: LagProbe | None = None

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Stop what is streaming, keep what arrived. Safe to call from any thread."""
        self._cancel.set()
        for run in self.runs:
            if not run.over:
                now = time.perf_counter()
                for result in run.results:
                    result.cancel(now)
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._cancel_tasks)

    def _cancel_tasks(self) -> None:
        for task in list(self._tasks):
            loop = task.get_loop()
            if loop is self._loop:
                task.cancel()
            else:  # a blocking side's own loop, in its own thread
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(task.cancel)

    async def _in_thread(self, work: Callable[[RunT], None], run: RunT) -> None:
        """Run a sequential side on a daemon thread; `cancel()` stops the wait at once.

        Its results are marked cancelled there and then; the thread's blocking read is ended
        by the watchdog (providers/watchdog.py) within 50 ms, and the thread ends with it.
        """
        job = asyncio.ensure_future(in_daemon_thread(work, run))
        self._track(job)
        try:
            await job
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # our caller was cancelled, not just this side

    def _stream_sync(self, adapter: Adapter, request: Request, result: Result) -> None:
        """Fold one blocking stream into `result`, stopping at a failure or a cancel. A finished
        answer's stream is read on to its end (briefly: the body's last bytes), so that its
        connection serves the next request."""
        stream = adapter.stream_sync(request, self._cancel)
        try:
            for event in stream:
                result.apply(event)
                if result.state.over and result.state is not State.DONE:
                    break
        finally:
            stream.close()

    def _track(self, task: asyncio.Future[None]) -> None:
        """A task `cancel()` must stop, even when called from another thread."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if self._probe is not None:
            self._probe.watch([task])

    def _before_blocking(self) -> None:
        """A task is about to hold its loop: the lag probe notes who waits behind it."""
        if self._probe is not None:
            self._probe.blocking()

    async def run(self) -> list[RunT]:
        """Run every side in turn. Cancelling the calling task cancels the whole run."""
        self._loop = asyncio.get_running_loop()
        try:
            for side, run in zip(self.sides(), self.runs, strict=True):
                if self.cancelled:
                    break
                await self._prepare(side, run)
                if self.cancelled:
                    break
                await self._run_side(side, run)
        except asyncio.CancelledError:
            self.cancel()
            raise
        finally:
            self._close_open_runs()
            for adapter in self._clients_of:
                adapter.close()
            if self._owns_clients:
                # After every clock; shielded, so a cancelled run still closes them.
                await asyncio.shield(self.clients.aclose())
        return self.runs

    async def _run_side(self, side: Mode, run: RunT) -> None:
        for result in run.results:
            result.queue()
        run.t0 = time.perf_counter()
        try:
            if side.name == "blocking":
                # Its own loop in its own thread: the stall it shows must not freeze the caller.
                await self._in_thread(partial(self._on_own_loop, side), run)
            else:
                await self._measured(side, run)
        finally:
            # Measured when control is back, so hand-off costs count as overhead.
            run.t_end = run.t_end or time.perf_counter()
            self._side_over(run)

    def _on_own_loop(self, side: Mode, run: RunT) -> None:
        asyncio.run(self._measured(side, run))

    async def _measured(self, side: Mode, run: RunT) -> None:
        """Run one side while a probe measures the lag of the loop it runs on."""
        probe = self._probe = LagProbe()
        await probe.start()
        try:
            if side.concurrent:
                await self._run_concurrent(side, run)
            else:
                await self._run_sync(run)
        finally:
            lag = await probe.stop()
            run.loop_lag = lag if run.t_end is None else lag.until(run.t_end)
            self._probe = None

    def _close_open_runs(self) -> None:
        now = time.perf_counter()
        for run in self.runs:
            for result in run.results:
                result.cancel(now)
            if not run.over:
                run.cancelled = True
                run.t0 = run.t0 or now
                run.t_end = now
            elif self.cancelled and any(r.state is State.CANCELLED for r in run.results):
                run.cancelled = True
            self._side_over(run)

    # --- what subclasses provide ----------------------------------------------------------

    def sides(self) -> tuple[Mode, ...]:
        """The runs this runner makes, in order."""
        return self.mode.sides()

    async def _prepare(self, side: Mode, run: RunT) -> None:
        raise NotImplementedError

    async def _run_sync(self, run: RunT) -> None:
        raise NotImplementedError

    async def _run_concurrent(self, side: Mode, run: RunT) -> None:
        raise NotImplementedError

    def _side_over(self, run: RunT) -> None:
        """Called when a side has ended, normally or not."""


class Race(Runner[Run[Result]]):
    """Runs `request` over `adapters` in `mode`; `runs` exist (and fill live) from the start.

    A `follow_up` race asks each model after its own earlier turns, never another's.
    """

    def __init__(
        self,
        adapters: Sequence[Adapter],
        request: Request,
        mode: Mode,
        follow_up: FollowUp | None = None,
        clients: ClientPool | None = None,
    ) -> None:
        self.adapters = list(adapters)
        self.request = request
        self.follow_up = follow_up or FollowUp()
        histories = self.follow_up.histories
        self._request_of = {
            id(a): request.following(histories.get(str(a.spec), ())) for a in self.adapters
        }
        runs = [
            Run[Result](
                mode=str(side),
                results=[Result(str(a.spec)) for a in self.adapters],
                concurrent=side.concurrent,
                limit=side.limit,
                pool_size=default_pool_size() if side.name == "threads" else None,
            )
            for side in mode.sides()
        ]
        super().__init__(mode, runs, self.adapters, clients)

    async def _prepare(self, side: Mode, run: Run[Result]) -> None:
        for adapter, result in zip(self.adapters, run.results, strict=True):
            result.status = adapter.preparing_note
        try:
            sync_clients = side.name in ("sync", "threads", "blocking")
            await prepare_clients(
                self.adapters, sync_clients, self.request.timeout, side_connections(side, run)
            )
        finally:
            for result in run.results:
                result.status = None

    async def _run_sync(self, run: Run[Result]) -> None:
        """One model after another on a thread of its own: real blocking I/O, loop left free."""
        await self._in_thread(self._sync_models, run)

    def _sync_models(self, run: Run[Result]) -> None:
        for adapter, result in zip(self.adapters, run.results, strict=True):
            if self.cancelled:
                result.cancel()
                continue
            self._consume_sync(adapter, result)

    async def _run_concurrent(self, side: Mode, run: Run[Result]) -> None:
        gate = asyncio.Semaphore(side.limit) if side.limit else None
        pool = DaemonPool(run.pool_size or 1) if side.name == "threads" else None
        try:
            async with asyncio.TaskGroup() as group:
                for adapter, result in zip(self.adapters, run.results, strict=True):
                    if pool is not None:
                        coro = pool.run(self._consume_sync, adapter, result)
                    elif side.name == "blocking":
                        coro = self._consume_blocking(adapter, result)
                    else:
                        coro = self._consume_async(adapter, result, gate)
                    self._track(group.create_task(_isolated(coro, result)))
        finally:
            if pool is not None:
                pool.close()

    def _consume_sync(self, adapter: Adapter, result: Result) -> None:
        self._stream_sync(adapter, self._request_of[id(adapter)], result)

    async def _consume_blocking(self, adapter: Adapter, result: Result) -> None:
        """The mistake, made on purpose: a sync client called straight from a coroutine, no
        `to_thread`. Nothing else on this loop runs until the whole answer has arrived."""
        if self.cancelled:
            result.cancel()
            return
        self._before_blocking()
        self._consume_sync(adapter, result)

    async def _consume_async(
        self, adapter: Adapter, result: Result, gate: asyncio.Semaphore | None
    ) -> None:
        if gate is None:
            await self._stream_async(adapter, result)
            return
        async with gate:
            if not self.cancelled:
                await self._stream_async(adapter, result)

    async def _stream_async(self, adapter: Adapter, result: Result) -> None:
        async for event in adapter.stream_async(self._request_of[id(adapter)]):
            result.apply(event)


async def _isolated(coro: Awaitable[object], result: Result) -> None:
    """Never let one model's task raise into the TaskGroup, which would cancel the others."""
    try:
        await coro
    except asyncio.CancelledError:
        result.cancel()
    except Exception as exc:
        result.apply(failure(exc))


class DaemonPool:
    """A fixed number of daemon threads fed from a queue, for blocking SDK calls.

    Sized like the default executor behind `asyncio.to_thread` (min(32, cores + 4)) so the
    threads mode shows the same queueing, but not that executor itself: its threads are
    joined when the loop and the interpreter shut down. The watchdog ends a cancelled read
    within 50 ms; the one it cannot reach (a reused connection still waiting for headers,
    which the SDK's own read timeout ends) must not hold up the exit, and on a daemon
    thread it does not.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._jobs: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()
        self._started = 0

    async def run(self, work: Callable[..., R], *args: Any) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        if self._started < self.size:
            self._started += 1
            threading.Thread(target=_serve, args=(self._jobs,), daemon=True).start()
        self._jobs.put((work, args, loop, future))
        return await future

    def close(self) -> None:
        """Let idle threads end; busy ones end after their current job."""
        for _ in range(self._started):
            self._jobs.put(None)


def _serve(jobs: queue.SimpleQueue[tuple[Any, ...] | None]) -> None:
    while (job := jobs.get()) is not None:
        work, args, loop, future = job
        try:
            outcome: tuple[Callable[..., None], Any] = (future.set_result, work(*args))
        except BaseException as exc:
            outcome = (future.set_exception, exc)
        # A closed loop means nobody waits for this any more (cancelled and gone).
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle, future, *outcome)


def _settle(future: asyncio.Future[Any], setter: Callable[[Any], None], value: Any) -> None:
    if not future.done():
        setter(value)


def _each(jobs: list[Callable[[], None]]) -> None:
    for job in jobs:
        job()


def side_connections(side: Mode, run: Run[Any]) -> int | None:
    """How many requests of a side are in flight at once (None: all of them)."""
    if side.name in ("sync", "blocking"):
        return 1
    if side.name == "threads":
        return run.pool_size or default_pool_size()
    return side.limit


async def prepare_clients(
    adapters: Iterable[Adapter],
    sync_clients: bool,
    timeout: float | None,
    connections: int | None = None,
    each: int = 1,
) -> None:
    """Import SDKs, get clients off the event loop and open the connections the side will
    use, all before a clock starts.

    A client shared by n models, each with `each` requests in flight at once (a bench
    sweep's level), gets min(n × each, `connections`) warm connections (None: n × each), as
    many as the side has requests on it at once; one already holding them is left alone.
    """
    adapters = list(adapters)
    running = asyncio.get_running_loop()
    loop = None if sync_clients else running
    # One worker thread per kind of adapter, not per model: SDKs load in parallel, while a
    # race whose clients are all pooled already pays one hop off the loop, not hundreds.
    kinds: dict[type, list[Callable[[], None]]] = {}
    for a in adapters:
        jobs = kinds.setdefault(type(a), [])
        if sync_clients:
            job = partial(a.prepare_sync, timeout, connect=False)
        else:
            # The same models in the same order land on the same clients race after race.
            a.shard = len(jobs) // MODELS_PER_CLIENT
            job = partial(a.prepare_async, running, timeout)
        jobs.append(job)
    await asyncio.gather(*(asyncio.to_thread(_each, jobs) for jobs in kinds.values()))
    users: Counter[PooledClient] = Counter()
    pools: dict[PooledClient, ClientPool] = {}
    for adapter in adapters:
        pooled = adapter.client_for(loop)
        if pooled is not None:
            users[pooled] += 1
            pools[pooled] = adapter.clients
    wanted = {pooled: min(n * each, connections or n * each) for pooled, n in users.items()}
    if sync_clients:
        warm = [asyncio.to_thread(pools[p].warm_sync, p, n) for p, n in wanted.items()]
    else:
        warm = [pools[p].warm_async(p, n) for p, n in wanted.items()]
    await asyncio.gather(*warm)
    heap.settle()  # the SDKs are loaded now; a clock starts next


async def in_daemon_thread(work: Callable[..., R], *args: Any) -> R:
    """Await `work(*args)` on a daemon thread of its own (see DaemonPool for why)."""
    pool = DaemonPool(1)
    try:
        return await pool.run(work, *args)
    finally:
        pool.close()
