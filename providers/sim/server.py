"""The simulator's HTTP/1.1 server: a minimal hand-written protocol on asyncio streams.

It runs on its own event loop in its own daemon thread so that clients in the same process
(sync SDK clients, or an app's event loop) really wait on a socket and cannot disturb the
server's pacing.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import errno
import json
import os
import re
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from email.utils import formatdate
from urllib.parse import unquote, urlsplit

from . import replay, wire
from .profiles import MAX_SECONDS, PROFILES, Profile, SimError, profile_for
from .text import Answer, rng_for

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    529: "Overloaded",
}
_GEMINI_PATH = re.compile(
    r"^/(v1|v1beta|v1alpha)/models/(.+):(streamGenerateContent|generateContent)$"
)
# POST routes that generate an answer (Gemini's are matched by _GEMINI_PATH).
MODEL_ROUTES = ("/v1/chat/completions", "/v1/completions", "/v1/messages", "/api/chat")
# POST a recording here to get the model name that replays it (providers/sim/replay.py).
REPLAY_ROUTE = "/v1/replays"
_MAX_BODY = 16 * 1024 * 1024
_LOG_SIZE = 10_000
_POLL_S = 0.1


class _Closed(Exception):
    """The client went away; stop serving this connection quietly."""


class _Conn:
    """One client connection: reading requests, writing responses."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.chunked = False
        self.sent_head = False

    def closing(self) -> bool:
        # a client that hangs up shows as EOF on our (otherwise idle) read side
        return self.writer.transport.is_closing() or self.reader.at_eof()

    async def write(self, data: bytes) -> None:
        if self.closing():
            raise _Closed
        if self.chunked:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        self.writer.write(data)
        await self.writer.drain()

    async def head(
        self, status: int, content_type: str, length: int | None, extra: Sequence[str] = ()
    ) -> None:
        lines = [
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
            f"Date: {formatdate(usegmt=True)}",
            "Server: modelrace-sim",
            f"Content-Type: {content_type}",
            "Connection: keep-alive",
            "Cache-Control: no-cache",
        ]
        if length is None:
            lines.append("Transfer-Encoding: chunked")
        else:
            lines.append(f"Content-Length: {length}")
        lines.extend(extra)
        self.chunked = False
        self.sent_head = True
        await self.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        self.chunked = length is None

    async def send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        extra: Sequence[str] = (),
    ) -> None:
        await self.head(status, content_type, len(body), extra)
        await self.write(body)

    async def finish_chunked(self) -> None:
        if self.closing():
            raise _Closed
        self.writer.write(b"0\r\n\r\n")
        self.chunked = False
        await self.writer.drain()

    async def sleep_until(self, when: float) -> None:
        """Sleep to an absolute loop time, noticing a client that hangs up meanwhile."""
        loop = asyncio.get_running_loop()
        while True:
            left = when - loop.time()
            if self.closing():
                raise _Closed
            if left <= 0:
                await asyncio.sleep(0)  # even when late: one fast stream must not hog the loop
                return
            await asyncio.sleep(min(left, _POLL_S))

    async def drop(self) -> None:
        """Hang up after flushing what was sent: the body just stops, with no end marker."""
        with contextlib.suppress(ConnectionError):
            await self.writer.drain()
        self.writer.close()
        raise _Closed


def schedule(p: Profile, model: str, prompt: str, t0: float, draw: int = 0) -> Iterator[float]:
    """Absolute send times of the tokens, lazily: ttft, then 1/tps apart, each jittered a little.

    `draw` counts earlier answers to the same request: each repeat gets fresh jitter, as a
    hosted model's timing varies call to call, yet a fresh server replays the same sequence.
    """
    rng = rng_for(model, prompt, p.seed, f"timing{draw}" if draw else "timing")

    def jit(x: float) -> float:
        return x * (1 + p.jitter * rng.uniform(-1, 1)) if p.jitter else x

    t = t0 + jit(p.ttft_s)
    while True:
        yield t
        t += jit(1 / p.tokens_per_s)


async def _chat(conn: _Conn, req: wire.ChatRequest, t0: float, key: str = "") -> None:
    if replay.is_replay(req.model):
        recording = _state().replays.get(req.model)
        if recording is None:
            message = f"unknown replay {req.model!r} (register it with POST {REPLAY_ROUTE})"
            await conn.send(404, wire.error_body(req.api, 404, message))
            return
        await _play(conn, req, t0, recording)
        return
    try:
        p = profile_for(req.model)
    except SimError as exc:
        status = 404 if req.model.split(",")[0].strip() not in PROFILES else 400
        await conn.send(status, wire.error_body(req.api, status, str(exc)))
        return
    if p.context_tokens is not None and req.input_tokens > p.context_tokens:
        message = wire.context_error(req.api, p.context_tokens, req.input_tokens)
        await conn.send(400, wire.error_body(req.api, 400, message))
        return
    if p.fault_times is not None and _state().faulted(req.model, req.prompt) >= p.fault_times:
        p = dataclasses.replace(p, fault=None)  # `times=N`: this one answers
    if p.fault == "http_error":
        await conn.sleep_until(t0 + p.ttft_s)
        message = wire.fault_message(p.status, key)
        extra = [] if p.retry_after_s is None else [f"Retry-After: {p.retry_after_s:g}"]
        await conn.send(p.status, wire.error_body(req.api, p.status, message), extra=extra)
        return
    answer = Answer(req.model, req.prompt, req.max_tokens, wire.echo_text(req) if p.echo else None)
    times = schedule(p, req.model, req.prompt, t0, _state().draw(req.model, req.prompt))
    fmt = wire.FORMATS[req.api](req)
    if not req.stream:
        await _plain(conn, p, fmt, answer, times, t0)
        return
    await conn.head(200, fmt.content_type, None)
    for event in fmt.preamble():
        await conn.write(event)
    # A fault is due before token number `after`; one due after the last token never fires.
    # With `burst=K` it comes at the first event boundary at or past it.
    fault_at = p.fault_after if p.fault else None
    sent, shift, previous = 0, 0.0, t0 + p.ttft_s

    def fault_due() -> bool:
        return fault_at is not None and sent >= fault_at

    for pieces, last in _bursts(answer, p.burst):
        if fault_due():
            shift = await _stream_fault(conn, p, fmt, previous)
            fault_at = None
        for _ in pieces:
            when = next(times) + shift
        await conn.sleep_until(when)
        if sent == 0:
            for event in fmt.first():
                await conn.write(event)
        sent += len(pieces)
        final = last and not fault_due()
        for event in fmt.delta("".join(pieces), final, sent, answer.finish):
            await conn.write(event)
        previous = when
    if fault_due():
        await _stream_fault(conn, p, fmt, previous)
    for event in fmt.end(sent, answer.finish):
        await conn.write(event)
    await conn.finish_chunked()


def _bursts(answer: Answer, size: int) -> Iterator[tuple[list[str], bool]]:
    """The answer's pieces `size` at a time (the last group may be shorter), and whether
    each group is the last."""
    group: list[str] = []
    for piece, last in answer:
        group.append(piece)
        if last or len(group) == size:
            yield group, last
            group = []


async def _play(conn: _Conn, req: wire.ChatRequest, t0: float, rec: replay.Recording) -> None:
    """A recording, piece by piece at its recorded offsets, ending (or failing) on time."""
    if rec.fault == "http" and not rec.chunks:
        assert rec.status is not None
        await conn.sleep_until(t0 + rec.end_s)
        message = rec.message or wire.fault_message(rec.status)
        await conn.send(rec.status, wire.error_body(req.api, rec.status, message))
        return
    if rec.usage is not None:
        req.input_tokens = rec.usage[0] or 0
    else:
        req.include_usage = False  # the recorded API reported no usage: neither do we
    out = len(rec.chunks) if rec.usage is None or rec.usage[1] is None else rec.usage[1]
    fmt = wire.FORMATS[req.api](req)
    if not req.stream:
        await conn.sleep_until(t0 + rec.end_s)
        if rec.fault is not None:
            await conn.drop()
        await conn.send(200, fmt.body("".join(t for _, t in rec.chunks), out, "stop"))
        return
    await conn.head(200, fmt.content_type, None)
    for event in fmt.preamble():
        await conn.write(event)
    last = len(rec.chunks) - 1
    for index, (offset, text) in enumerate(rec.chunks):
        await conn.sleep_until(t0 + offset)
        if index == 0:
            for event in fmt.first():
                await conn.write(event)
        final = index == last and rec.fault is None
        for event in fmt.delta(text, final, index + 1, "stop"):
            await conn.write(event)
    await conn.sleep_until(t0 + rec.end_s)
    if rec.fault == "malformed":
        await conn.write(fmt.malformed)
        await conn.finish_chunked()
        raise _Closed
    if rec.fault == "stall":
        await conn.sleep_until(t0 + rec.end_s + MAX_SECONDS)  # until the client gives up
    if rec.fault is not None:  # a drop, or an HTTP error that came after text had
        await conn.drop()
    for event in fmt.end(out, "stop"):
        await conn.write(event)
    await conn.finish_chunked()


class _LoopState:
    """What one server remembers between requests: repeat counts, `slots=K` queues and the
    recordings it was given to replay."""

    def __init__(self) -> None:
        self.draws: dict[tuple[str, str], int] = {}
        self.gates: dict[str, asyncio.Semaphore] = {}
        self.replays = replay.Recordings()
        self.faults: dict[tuple[str, str], int] = {}

    def draw(self, model: str, prompt: str) -> int:
        if len(self.draws) > 10_000:
            self.draws.clear()
        n = self.draws.get((model, prompt), 0)
        self.draws[(model, prompt)] = n + 1
        return n

    def faulted(self, model: str, prompt: str) -> int:
        """How many requests for this model and prompt came before this one (`times=N`)."""
        if len(self.faults) > 10_000:
            self.faults.clear()
        n = self.faults.get((model, prompt), 0)
        self.faults[(model, prompt)] = n + 1
        return n


# Keyed by the server's loop: every SimServer runs its own, and semaphores cannot cross loops.
_STATES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
    weakref.WeakKeyDictionary()
)


def _state() -> _LoopState:
    return _STATES.setdefault(asyncio.get_running_loop(), _LoopState())


async def _queued(conn: _Conn, req: wire.ChatRequest, t0: float, key: str) -> None:
    """A `slots=K` model answers K requests at once and queues the rest, as llama.cpp and
    vLLM do: a queued request's time to first token includes its wait."""
    try:
        slots = profile_for(req.model).slots
    except SimError:
        slots = None
    if slots is None:
        await _chat(conn, req, t0, key)
        return
    gate = _state().gates.setdefault(req.model, asyncio.Semaphore(slots))
    async with gate:
        if conn.closing():
            raise _Closed
        await _chat(conn, req, asyncio.get_running_loop().time(), key)


async def _stream_fault(conn: _Conn, p: Profile, fmt: wire.Format, when: float) -> float:
    """Act out the profile's fault at `when`; returns the delay it adds (only a stall returns)."""
    await conn.sleep_until(when)
    if p.fault == "drop":
        await conn.drop()
    elif p.fault == "malformed":
        await conn.write(fmt.malformed)
        await conn.finish_chunked()
        raise _Closed  # response complete, but keep the connection out of reuse
    elif p.fault == "stall":
        await conn.sleep_until(when + p.stall_s)
    return p.stall_s


async def _plain(
    conn: _Conn,
    p: Profile,
    fmt: wire.Format,
    answer: Answer,
    times: Iterator[float],
    t0: float,
) -> None:
    """A non-streaming answer: the whole body once the last token would have been made."""
    pieces = [piece for piece, _last in answer]  # a body is sent whole; the caps bound it
    n = len(pieces)
    done = t0 + p.ttft_s
    for _ in range(n):
        done = next(times)
    fault_at = p.fault_after if p.fault and p.fault_after <= n else None
    if fault_at is not None:
        when = t0 + p.ttft_s
        if fault_at:
            times = schedule(p, fmt.req.model, fmt.req.prompt, t0)
            for _ in range(fault_at):
                when = next(times)
        await conn.sleep_until(when)
        if p.fault == "drop":
            await conn.drop()
        if p.fault == "malformed":
            await conn.send(200, b'{"id": "broken", "choices": [')
            return
        if p.fault == "stall":
            await conn.sleep_until(when + p.stall_s)
            done += p.stall_s
    await conn.sleep_until(done)
    await conn.send(200, fmt.body("".join(pieces), n, answer.finish))


def _api_for_get(path: str, headers: dict[str, str]) -> str:
    if "anthropic-version" in headers:
        return "anthropic"
    if "x-goog-api-key" in headers or path.startswith(("/v1beta", "/v1alpha")):
        return "gemini"
    return "openai"


async def _route(
    conn: _Conn, method: str, target: str, headers: dict[str, str], body: bytes
) -> None:
    t0 = asyncio.get_running_loop().time()
    path = unquote(urlsplit(target).path)
    if path.endswith("/") and len(path) > 1:
        path = path[:-1]
    api = "openai"
    if path == "/v1/completions":
        api = "completions"
    elif path == "/v1/messages":
        api = "anthropic"
    elif path.startswith("/api/"):
        api = "ollama"
    elif path.startswith(("/v1beta/", "/v1alpha/")) or _GEMINI_PATH.match(path):
        api = "gemini"

    if method == "GET":
        if path in ("/health", "/"):
            await conn.send(200, b'{"status":"ok"}')
        elif path in ("/v1/models", "/v1beta/models"):
            await conn.send(200, wire.models_body(_api_for_get(path, headers)))
        elif path == "/api/tags":
            await conn.send(200, wire.models_body("ollama"))
        elif path == "/api/version":
            await conn.send(200, b'{"version":"0.12.0"}')
        else:
            await _unknown_route(conn, api, method, path)
        return
    if method != "POST":
        await conn.send(405, wire.error_body(api, 405, f"method {method} not allowed"))
        return

    if path == REPLAY_ROUTE:
        try:
            name = _state().replays.add(body)
        except replay.BadRecording as exc:
            await conn.send(400, wire.error_body(api, 400, str(exc)))
            return
        await conn.send(200, json.dumps({"model": name}).encode())
        return
    gem = _GEMINI_PATH.match(path)
    if path not in MODEL_ROUTES and not gem:
        await _unknown_route(conn, api, method, path)
        return
    try:
        data = json.loads(body or b"null")
        if not isinstance(data, dict):
            raise wire.BadRequest(400, "request body must be a JSON object")
        if gem:
            model = gem.group(2).removeprefix("models/")
            req = wire.parse_gemini(data, model, gem.group(3) == "streamGenerateContent")
        elif api == "anthropic":
            req = wire.parse_anthropic(data)
        elif api == "ollama":
            req = wire.parse_ollama(data)
        elif api == "completions":
            req = wire.parse_completions(data)
        else:
            req = wire.parse_openai(data)
    except ValueError as exc:
        await conn.send(400, wire.error_body(api, 400, f"request body is not valid JSON: {exc}"))
        return
    except wire.BadRequest as exc:
        await conn.send(exc.status, wire.error_body(api, exc.status, exc.message))
        return
    if replay.is_replay(req.model):
        t0 = replay.start_of(headers.get(replay.STARTED_HEADER.lower()), t0)
    await _queued(conn, req, t0, _presented_key(headers))


def is_model_route(path: str) -> bool:
    """Whether a request to `path` asks for an answer (and so would spend tokens for real)."""
    return path.rstrip("/") in MODEL_ROUTES or bool(_GEMINI_PATH.match(unquote(path)))


async def _unknown_route(conn: _Conn, api: str, method: str, path: str) -> None:
    """404 that names the route, so a wrong base URL is not mistaken for an unknown model."""
    message = f"unknown route: {method} {path}"
    await conn.send(404, wire.error_body(api, 404, message, code="unknown_route"))


def _presented_key(headers: dict[str, str]) -> str:
    """The API key the client sent, whichever header its SDK uses."""
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return headers.get("x-api-key") or headers.get("x-goog-api-key") or ""


async def _read_request(conn: _Conn) -> tuple[str, str, dict[str, str], bytes] | None:
    line = await conn.reader.readline()
    if not line:
        return None
    try:
        method, target, _version = line.decode("latin-1").split()
    except ValueError:
        await conn.send(400, b'{"error":"bad request line"}')
        raise _Closed from None
    headers: dict[str, str] = {}
    while True:
        h = await conn.reader.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        name, _, value = h.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        await conn.send(411, b'{"error":"chunked request bodies are not supported"}')
        raise _Closed
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        length = -1
    if not 0 <= length <= _MAX_BODY:
        await conn.send(413 if length > 0 else 400, b'{"error":"bad content-length"}')
        raise _Closed
    body = await conn.reader.readexactly(length) if length else b""
    return method.upper(), target, headers, body


class SimServer:
    """The simulator on 127.0.0.1 in a daemon thread with its own event loop.

    ``with SimServer() as server:`` (then ``server.url``), or ``url = server.start()`` … ``stop()``.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.url: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self.busy = 0  # requests being answered right now (idle keep-alive ones excluded)
        # (method, path) of the latest requests, oldest first: what a client really sent.
        self.requests: collections.deque[tuple[str, str]] = collections.deque(maxlen=_LOG_SIZE)
        self._stopped: asyncio.Event | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        conn = _Conn(reader, writer)
        try:
            while True:
                request = await _read_request(conn)
                if request is None:
                    break
                method, target, headers, body = request
                conn.sent_head = False
                self.requests.append((method, urlsplit(target).path))
                self.busy += 1
                try:
                    await _route(conn, method, target, headers, body)
                finally:
                    self.busy -= 1
                if headers.get("connection", "").lower() == "close":
                    break
        except (
            _Closed,
            ConnectionError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ValueError,
        ):
            pass
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # a bug in the simulator: answer 500, no traceback spam
            if not conn.sent_head:
                with contextlib.suppress(Exception):
                    await conn.send(500, wire.error_body("openai", 500, f"sim bug: {exc!r}"))
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()

    async def serve(self, on_ready: Callable[[str], object] | None = None) -> None:
        """Listen and serve until :meth:`stop` (or cancellation); calls ``on_ready(url)``."""
        self._stopped = asyncio.Event()
        self._server = await asyncio.start_server(
            self._handle, self.host, self.port, limit=1 << 20, backlog=512
        )
        sock = self._server.sockets[0]
        host, port = sock.getsockname()[:2]
        self.port = port
        self.url = f"http://{host}:{port}"
        if on_ready is not None:
            on_ready(self.url)
        try:
            await self._stopped.wait()
        finally:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=2)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def start(self) -> str:
        """Start serving in a daemon thread; returns the base URL like ``http://127.0.0.1:PORT``."""
        if self._thread is not None:
            raise SimError("sim server already started")
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.serve(lambda _url: ready.set()))
            except BaseException as exc:  # reported to start() below
                failure.append(exc)
                ready.set()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="modelrace-sim", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise SimError("sim server did not start within 10 s")
        if failure:
            self._thread = None
            exc = failure[0]
            raise SimError(f"cannot listen on {self.host}:{self.port}: {_reason(exc)}") from None
        assert self.url is not None
        return self.url

    def stop(self) -> None:
        """Stop serving, cancel open streams, and join the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if self._stopped is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._stopped.set)
        thread.join(10)
        self._thread = None
        self._loop = None

    def __enter__(self) -> SimServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _reason(exc: BaseException) -> str:
    """A short reason for a failed listen, without asyncio's long prefix."""
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return "address already in use"
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno).lower()
    return str(exc) or type(exc).__name__
