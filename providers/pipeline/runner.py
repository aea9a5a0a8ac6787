"""Running a pipeline: each step as soon as its inputs are ready, or one at a time for contrast.

The concurrent side gives every step a task that waits for exactly the steps in its `after`,
so nothing waits for an unrelated slower branch (no waves). The sync side runs the same
graph one step at a time in file order, with the sync SDK clients and `time.sleep`, in a
worker thread: real blocking I/O, as the seed's script did. Both record into `Run`s that
exist before the clock starts and fill live, like `providers.race.Race`, so a dashboard can
draw a pipeline exactly as it draws a race.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from providers.base import Adapter, describe_error, failure
from providers.config import Config
from providers.environment import one_line
from providers.events import Failed, Started
from providers.failures import FailureKind
from providers.pipeline.graph import longest_path, observed_critical_path, topological_order
from providers.pipeline.spec import Pipeline, PipelineError, Step
from providers.race import (
    Mode,
    ModeError,
    Runner,
    prepare_clients,
)
from providers.record import Result, Run
from providers.request import Request

PIPELINE_MODES = ("sync", "async", "both", "blocking", "all")
# Not `threads` nor `limit=N`: a step runs when its inputs are ready, so no pool or limit
# is what decides a pipeline's shape; `all` is therefore sync, blocking and async.
PIPELINE_SIDES = ("sync", "blocking", "async")


def parse_pipeline_mode(text: str) -> Mode:
    """Pipelines run in sync, async, both (sync first), blocking or all; threads and limit=N
    do not apply."""
    raw = text.strip().lower()
    if raw not in PIPELINE_MODES:
        choices = ", ".join(PIPELINE_MODES)
        raise ModeError(f"unknown pipeline mode {text!r}; choose one of {choices}")
    return Mode(raw)


@dataclass(eq=False)
class StepResult(Result):
    """One step of one pass. `source` is what the step does (a spec, "wait 2s", "GET url")."""

    step: str = ""
    kind: str = "llm"
    after: list[str] = field(default_factory=list)
    critical: bool = False
    prompt: str | None = None  # the rendered prompt of an llm step, once it started

    @property
    def label(self) -> str:
        return self.step

    @property
    def cost_usd(self) -> float | None:
        """A wait or a GET asks no model: nothing is billed."""
        return super().cost_usd if self.kind == "llm" else 0.0

    def to_json(self, t0: float) -> dict[str, object]:
        out = super().to_json(t0)
        out.update(
            step=self.step,
            kind=self.kind,
            after=list(self.after),
            critical=self.critical,
            skipped=self.skipped,
            prompt=self.prompt,
        )
        return out


@dataclass(eq=False)
class PipelinePass(Run[StepResult]):
    """The record of one pass of the pipeline in one mode; its steps in file order."""

    pipeline: str = ""

    @property
    def label(self) -> str:
        return self.pipeline

    @property
    def steps(self) -> list[StepResult]:
        return self.results

    def result(self, step: str) -> StepResult:
        return next(r for r in self.steps if r.step == step)

    @property
    def critical_path(self) -> list[str]:
        """Concurrent: the chain that decided the wall time. Sync: the longest chain."""
        after = {r.step: r.after for r in self.steps}
        if self.concurrent:
            return observed_critical_path(after, {r.step: r.end for r in self.steps})
        return longest_path(after, {r.step: r.duration for r in self.steps})

    @property
    def ideal_s(self) -> float | None:
        """Concurrent: the critical path's length. Sync: every step's duration, summed."""
        names = set(self.critical_path) if self.concurrent else {r.step for r in self.steps}
        durations = [r.duration for r in self.steps if r.step in names and r.duration]
        return sum(durations) if durations else None

    def mark_critical(self) -> None:
        on_path = set(self.critical_path)
        for r in self.steps:
            r.critical = r.step in on_path

    def to_json(self) -> dict[str, object]:
        self.mark_critical()
        out = super().to_json()
        out.update(pipeline=self.pipeline, critical_path=self.critical_path)
        return out


class PipelineRunner(Runner[PipelinePass]):
    """Runs `pipeline` on `input_text` in `mode` (sync, async or both); `runs` fill live.

    `time_scale` multiplies every wait step's duration; it exists so tests can run the
    shipped examples quickly and is never set by the command line.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        input_text: str,
        mode: Mode | str = "both",
        config: Config | None = None,
        *,
        time_scale: float = 1.0,
    ) -> None:
        from providers.registry import make_adapter

        self.pipeline = pipeline
        self.input = input_text or pipeline.input
        pipeline.check_input(self.input)
        self.mode = parse_pipeline_mode(mode) if isinstance(mode, str) else mode
        if self.mode.name not in PIPELINE_MODES:
            raise ModeError(f"pipelines run in {', '.join(PIPELINE_MODES)}, not {self.mode}")
        self.time_scale = time_scale
        self.order = topological_order(pipeline)
        # One adapter per model spec: steps on the same model share its clients.
        self.adapters: dict[str, Adapter] = {}
        for step in pipeline.steps:
            if step.model is not None and step.model not in self.adapters:
                self.adapters[step.model] = make_adapter(step.model, config)
        runs = [
            PipelinePass(
                mode=str(side),
                results=[_new_result(s) for s in pipeline.steps],
                concurrent=side.concurrent,
                pipeline=pipeline.name,
            )
            for side in self.sides()
        ]
        super().__init__(self.mode, runs, self.adapters.values())

    def sides(self) -> tuple[Mode, ...]:
        return tuple(side for side in self.mode.sides() if side.name in PIPELINE_SIDES)

    def _side_over(self, run: PipelinePass) -> None:
        run.mark_critical()

    async def _prepare(self, side: Mode, run: PipelinePass) -> None:
        timeout = _client_timeout(self.pipeline)
        sync_clients = side.name in ("sync", "blocking")
        await prepare_clients(self.adapters.values(), sync_clients, timeout)

    # --- concurrent: a task per step, each awaiting exactly its inputs ---------------------

    async def _run_concurrent(self, side: Mode, run: PipelinePass) -> None:
        loop = asyncio.get_running_loop()
        # Each future resolves to None (the step succeeded) or the name of the failed step.
        done: dict[str, asyncio.Future[str | None]] = {
            s.name: loop.create_future() for s in self.pipeline.steps
        }
        async with asyncio.TaskGroup() as group:
            for step in self.pipeline.steps:
                self._track(group.create_task(self._step_task(step, run, done)))

    async def _step_task(
        self, step: Step, run: PipelinePass, done: dict[str, asyncio.Future[str | None]]
    ) -> None:
        result = run.result(step.name)
        failed: str | None = None
        try:
            for finished in asyncio.as_completed([done[d] for d in step.after]):
                failed = await finished
                if failed is not None:
                    break
            if failed is not None:
                _skip(result, failed)
            elif self.cancelled:
                result.cancel()
            elif run.mode == "blocking":
                # The mistake, on purpose: a blocking call straight from the step's task holds
                # the loop, so steps that could overlap (retrievals) run one after another.
                self._before_blocking()
                self._execute_sync(step, run, result)
            else:
                await self._execute_async(step, run, result)
        except asyncio.CancelledError:
            result.cancel()
        except Exception as exc:
            result.apply(failure(exc))
        finally:
            if not result.state.over:
                result.cancel()
            outcome = None if result.ok else (failed or step.name)
            if not done[step.name].done():
                done[step.name].set_result(outcome)

    async def _execute_async(self, step: Step, run: PipelinePass, result: StepResult) -> None:
        if step.kind == "llm":
            request = self._request(step, run, result)
            async for event in self.adapters[str(step.model)].stream_async(request):
                result.apply(event)
        elif step.kind == "wait":
            result.apply(Started(time.perf_counter()))
            await asyncio.sleep(step.seconds * self.time_scale)
            _finish(result, self._render(step, run))
        else:
            result.apply(Started(time.perf_counter()))
            _got(result, await _http_get_async(str(step.url), step.timeout, step.max_bytes))

    # --- sync: one step at a time, in file order, on a thread of its own ------------------

    async def _run_sync(self, run: PipelinePass) -> None:
        await self._in_thread(self._sync_steps, run)

    def _sync_steps(self, run: PipelinePass) -> None:
        failed_root: dict[str, str] = {}
        for step in self.order:
            result = run.result(step.name)
            root = next((failed_root[d] for d in step.after if d in failed_root), None)
            if self.cancelled:
                result.cancel()
            elif root is not None:
                _skip(result, root)
            else:
                try:
                    self._execute_sync(step, run, result)
                except Exception as exc:
                    result.apply(failure(exc))
                if not result.state.over:
                    result.cancel()
            if not result.ok:
                failed_root[step.name] = root or step.name

    def _execute_sync(self, step: Step, run: PipelinePass, result: StepResult) -> None:
        if step.kind == "llm":
            request = self._request(step, run, result)
            self._stream_sync(self.adapters[str(step.model)], request, result)
        elif step.kind == "wait":
            result.apply(Started(time.perf_counter()))
            # A blocking sleep, as a sync script would do; a cancel cuts it short.
            if self._cancel.wait(step.seconds * self.time_scale):
                result.cancel()
                return
            _finish(result, self._render(step, run))
        else:
            result.apply(Started(time.perf_counter()))
            got = _http_get(str(step.url), step.timeout, step.max_bytes, self._cancel)
            if self._cancel.is_set():
                result.cancel()
            else:
                _got(result, got)

    # --- shared ---------------------------------------------------------------------------

    def _outputs(self, run: PipelinePass) -> dict[str, str]:
        return {r.step: r.text for r in run.steps if r.ok}

    def _render(self, step: Step, run: PipelinePass) -> str:
        assert step.output is not None
        return step.output.render(self.input, self._outputs(run))

    def _request(self, step: Step, run: PipelinePass, result: StepResult) -> Request:
        outputs = self._outputs(run)
        assert step.prompt is not None
        prompt = step.prompt.render(self.input, outputs)
        if not prompt.strip():
            raise PipelineError(f"the prompt is empty once {step.prompt.source!r} is filled in")
        system = step.system.render(self.input, outputs) if step.system else None
        result.prompt = prompt
        return Request(prompt, system or None, step.temperature, step.max_tokens, step.timeout)


def _client_timeout(pipeline: Pipeline) -> float | None:
    """Clients are shared by steps; each request still keeps its own deadline."""
    timeouts = [s.timeout for s in pipeline.steps if s.kind == "llm"]
    if not timeouts or any(t is None for t in timeouts):
        return None
    return max(t for t in timeouts if t is not None)


def _new_result(step: Step) -> StepResult:
    return StepResult(step.label, step=step.name, kind=step.kind, after=list(step.after))


def _finish(result: StepResult, text: str, error: str | None = None) -> None:
    """A wait or get step: its 'first token' is its end, its text arrives in one piece."""
    if error is not None:
        result.apply(Failed(time.perf_counter(), error))
    else:
        result.finish_with(text)


def _skip(result: StepResult, failed: str) -> None:
    result.skip(f"skipped: step {failed!r} failed")


# --- get steps: httpx, a total deadline, a size cap -----------------------------------------


def _got(result: StepResult, got: str | Failed) -> None:
    if isinstance(got, Failed):
        result.apply(got)
    else:
        result.finish_with(got)


async def _http_get_async(url: str, timeout: float | None, max_bytes: int) -> str | Failed:
    """The body as text, or the failure. `timeout` bounds the whole exchange, not each read."""
    import httpx

    try:
        async with (
            asyncio.timeout(timeout),
            httpx.AsyncClient(timeout=timeout, follow_redirects=True) as client,
            client.stream("GET", url) as response,
        ):
            if (refused := _refuse(response, url, max_bytes)) is not None:
                return refused
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    return _too_large(url, max_bytes)
            return _decode(bytes(body), response.charset_encoding)
    except TimeoutError:
        return _timed_out_get(timeout)
    except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as exc:
        return _get_failed(url, exc, timeout)


def _http_get(
    url: str, timeout: float | None, max_bytes: int, cancel: threading.Event | None = None
) -> str | Failed:
    """The sync side of `_http_get_async`, with httpx's sync client.

    httpx's timeouts bound each read, so a server dripping a byte a second would never time
    out: a watchdog shuts the socket down at the deadline (or on cancel), which ends the
    blocked read at once, and the step reports its timeout.
    """
    import httpx

    sockets: list[socket.socket] = []
    stop = threading.Event()
    fired = threading.Event()

    def trace(event: str, info: dict[str, Any]) -> None:
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            stream = info.get("return_value")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if sock is not None:
                sockets.append(sock)
                if fired.is_set():
                    _shut(sockets)

    watchdog = threading.Thread(
        target=_watch, args=(timeout, cancel, stop, fired, sockets), daemon=True
    )
    watchdog.start()
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=True) as client,
            client.stream("GET", url, extensions={"trace": trace}) as response,
        ):
            if (refused := _refuse(response, url, max_bytes)) is not None:
                return refused
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    return _too_large(url, max_bytes)
                if fired.is_set():
                    break
            if not fired.is_set():
                return _decode(bytes(body), response.charset_encoding)
    except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as exc:
        if not fired.is_set():
            return _get_failed(url, exc, timeout)
    finally:
        stop.set()
    return _timed_out_get(timeout)


def _watch(
    timeout: float | None,
    cancel: threading.Event | None,
    stop: threading.Event,
    fired: threading.Event,
    sockets: list[socket.socket],
) -> None:
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
        if stop.wait(max(0.0, left)):
            return
        expired = deadline is not None and time.monotonic() >= deadline
        if expired or (cancel is not None and cancel.is_set()):
            fired.set()
            _shut(sockets)
            return


def _shut(sockets: Iterable[socket.socket]) -> None:
    """shutdown, not close: only shutdown wakes a read blocked in another thread."""
    for sock in list(sockets):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _refuse(response: Any, url: str, max_bytes: int) -> Failed | None:
    """A non-2xx status, or a declared length over the cap: refused before the body is read."""
    status = response.status_code
    if not 200 <= status < 300:
        reason = response.reason_phrase or "error"
        return Failed(
            time.perf_counter(), one_line(f"HTTP {status}: {reason}"), FailureKind.HTTP, status
        )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        return _too_large(url, max_bytes)
    return None


def _decode(body: bytes, charset: str | None) -> str:
    """Decoded with the declared charset; an unknown one falls back to UTF-8, and bytes that do
    not decode become U+FFFD rather than failing the step."""
    try:
        codecs.lookup(charset or "utf-8")
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def _too_large(url: str, max_bytes: int) -> Failed:
    return Failed(
        time.perf_counter(),
        one_line(f"GET {url}: the body is larger than max_bytes ({max_bytes:,} bytes)"),
        FailureKind.OTHER,
    )


def _timed_out_get(timeout: float | None) -> Failed:
    if timeout is None:
        return Failed(time.perf_counter(), "cancelled", FailureKind.CANCELLED)
    return Failed(time.perf_counter(), f"timed out after {timeout:g} s", FailureKind.TIMEOUT)


def _get_failed(url: str, exc: BaseException, timeout: float | None) -> Failed:
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return _timed_out_get(timeout)
    kind = FailureKind.CONNECTION if isinstance(exc, httpx.TransportError) else FailureKind.OTHER
    return Failed(time.perf_counter(), one_line(f"GET {url} failed: {_os_reason(exc)}"), kind)


def _os_reason(exc: BaseException) -> str:
    """The socket's own reason ("Connection refused") when there is one: the sync and async
    transports word the same failure differently."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno:
            return os.strerror(seen.errno)
        seen = seen.__cause__ or seen.__context__
    return describe_error(exc)
