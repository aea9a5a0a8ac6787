"""`replay:ID:SPEC`: a stored answer replayed by the simulator at its recorded pace.

The adapter reads the run store while its clients are built (before the clock), posts the
recording to the simulator and gets a model name for it; the race then streams that name
through the OpenAI SDK and a real socket, exactly as a `sim:` model, so a replay's timeline is
measured, not drawn from the stored numbers. Posting the recording (rather than letting the
simulator open the store) keeps the simulator free of disk I/O on its loop and lets any
simulator play it, the shared child process or a standalone `modelrace sim`.
"""

from __future__ import annotations

import contextvars
import dataclasses
import json
import urllib.request
from collections.abc import AsyncGenerator, Callable, Generator
from contextlib import aclosing, closing
from typing import Any

from providers.adapters.sim_adapter import SimAdapter
from providers.base import AsyncPieces, Pieces
from providers.events import Event, Failed, Started
from providers.failures import FailureKind
from providers.request import Request
from providers.sim.replay import STARTED_HEADER
from providers.spec import Spec

# A deadline of zero is no deadline: a recorded failure at 0 s is replayed at 1 ms.
_MIN_DEADLINE_S = 0.001
_REGISTER_TIMEOUT_S = 10.0
# The Started stamp of the request being made in this thread or task.
_started: contextvars.ContextVar[float | None] = contextvars.ContextVar("started", default=None)


class ReplayAdapter(SimAdapter):
    preparing_note = "loading the recording…"

    def __init__(self, spec: Spec) -> None:
        super().__init__(spec)
        self._target: Any = None
        self._names: dict[bool, str] = {}

    def target(self) -> Any:
        """The stored race and model this spec names (`providers.store.replay.Target`)."""
        if self._target is None:
            from providers.store.replay import target

            self._target = target(self.spec.model)
        return self._target

    def spec_problem(self) -> str | None:
        from providers.store import StoreError
        from providers.store.replay import ReplayError

        try:
            self.target()
        except (ReplayError, StoreError) as exc:
            return str(exc)
        return None

    def problem(self) -> str | None:
        return self.spec_problem()

    # --- before the clock: the recording is handed to the simulator ----------------------

    def prepare_model(self, concurrent: bool) -> None:
        if concurrent not in self._names:
            self._names[concurrent] = self._register(concurrent=concurrent)

    def _register(self, *, concurrent: bool) -> str:
        from providers.store.replay import recording

        run, result = self.target().result(concurrent)
        body = json.dumps(recording(run, result)).encode()
        post = urllib.request.Request(
            f"{self.base_url()}/replays",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        # Loopback only: no proxy may stand between us and the simulator.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(post, timeout=_REGISTER_TIMEOUT_S) as answer:
            return str(json.loads(answer.read())["model"])

    def _player(self, concurrent: bool) -> SimAdapter:
        return _Player(Spec("sim", self._names[concurrent]))

    def pieces_sync(self, client: Any, request: Request) -> Pieces:
        return self._player(False).pieces_sync(client, request)

    def pieces_async(self, client: Any, request: Request) -> AsyncPieces:
        return self._player(True).pieces_async(client, request)

    # --- streams: a failure the wire cannot repeat ends at the recorded moment --------------

    def _replayed(
        self, request: Request, concurrent: bool
    ) -> tuple[Request, Callable[[Event], Event]]:
        """The request with the recorded deadline, and what a failure at it is reported as."""
        from providers.store.replay import played_by_deadline

        try:
            _run, result = self.target().result(concurrent)
        except Exception:
            return request, _same
        if not played_by_deadline(result) or result.duration is None:
            return request, _same
        moment = max(result.duration, _MIN_DEADLINE_S)
        if request.timeout is not None and request.timeout <= moment:
            return request, _same  # the user's own deadline comes first

        def as_recorded(event: Event) -> Event:
            if isinstance(event, Failed) and event.kind is FailureKind.TIMEOUT:
                kind = result.error_kind or FailureKind.OTHER
                return Failed(event.t, result.error or str(kind), kind, result.http_status)
            return event

        return dataclasses.replace(request, timeout=moment), as_recorded

    def stream_sync(self, request: Request, cancel: Any = None) -> Generator[Event, None, None]:
        replayed, convert = self._replayed(request, concurrent=False)
        with closing(super().stream_sync(replayed, cancel)) as events:
            for event in events:
                if isinstance(event, Started):
                    _started.set(event.t)
                yield convert(event)

    async def stream_async(self, request: Request) -> AsyncGenerator[Event, None]:
        replayed, convert = self._replayed(request, concurrent=True)
        async with aclosing(super().stream_async(replayed)) as events:
            async for event in events:
                if isinstance(event, Started):
                    _started.set(event.t)
                yield convert(event)


class _Player(SimAdapter):
    """Streams a registered recording; tells the simulator when the request started.

    The recorded offsets count from the recorded request's start, as seen by the client. On
    the same machine the simulator reads the same monotonic clock and counts from that start
    too, so the replay does not add its own request's trip to times that already hold one;
    elsewhere it counts from when the request arrived (providers/sim/replay.py).
    """

    def _params(self, request: Request) -> dict[str, Any]:
        params = super()._params(request)
        started = _started.get()
        if started is not None:
            params["extra_headers"] = {STARTED_HEADER: f"{started:.6f}"}
        return params


def _same(event: Event) -> Event:
    return event
