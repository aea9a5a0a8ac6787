"""What a user is told when a model fails: the kind and status in `run --json`, one clean line.

The first tests need no sockets: a result's transitions and the classification of exceptions
built the way the SDKs build them. The rest run the real command against the simulator's
fault profiles, through each SDK's own wire format, and against a loopback server that sends
what the simulator does not (an unnamed Anthropic event, an Ollama error body nested twice).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import httpx2
import pytest
from cli_helpers import modelrace

from providers.base import classify_transport, describe_error, failure
from providers.events import Failed, Finished, Started, TextDelta
from providers.failures import FailureKind, StreamError
from providers.record import Result, State
from providers.registry import make_adapter

# --- fast tier: no sockets ----------------------------------------------------------------


def test_a_result_ends_once_and_keeps_its_text():
    r = Result("m")
    r.apply(Started(1.0))
    r.apply(TextDelta(1.5, "Hello"))
    r.cancel(2.0)
    r.apply(TextDelta(2.5, " late"))
    r.apply(Finished(3.0))

    assert (r.state, r.text, r.end, r.error_kind) == (State.CANCELLED, "Hello", 2.0, "cancelled")
    assert r.to_json(0.0)["error_kind"] == "cancelled"


def test_a_failed_event_carries_kind_and_status_into_json():
    r = Result("m")
    r.apply(Started(1.0))
    r.apply(Failed(1.2, "HTTP 429: slow down", FailureKind.RATE_LIMITED, 429))
    r.skip("skipped: never mind", 1.3)

    out = r.to_json(1.0)
    assert (out["state"], out["error_kind"], out["http_status"]) == ("failed", "rate_limited", 429)
    assert out["error"] == "HTTP 429: slow down" and out["ok"] is False


def test_a_skip_is_its_own_kind_and_keeps_no_time():
    r = Result("wait 1s")
    r.skip("skipped: step 'a' failed", 5.0)

    assert r.skipped and r.state is State.FAILED and r.duration == 0.0


def _request() -> httpx2.Request:
    return httpx2.Request("POST", "http://127.0.0.1:1/v1/chat/completions")


def test_transport_errors_are_classified_by_class_whatever_their_text():
    cases = {
        httpx2.ReadTimeout("x", request=_request()): FailureKind.TIMEOUT,
        httpx.ConnectTimeout("x"): FailureKind.TIMEOUT,
        httpx2.RemoteProtocolError("something new", request=_request()): FailureKind.DROPPED,
        httpx.ReadError("reset"): FailureKind.DROPPED,
        httpx2.ConnectError("refused", request=_request()): FailureKind.CONNECTION,
        json.JSONDecodeError("Expecting value", "{", 1): FailureKind.MALFORMED,
        StreamError("bad", FailureKind.MALFORMED): FailureKind.MALFORMED,
        ValueError("peer closed connection; timeout"): FailureKind.OTHER,
    }
    for exc, kind in cases.items():
        assert classify_transport(exc).kind is kind, exc


def test_a_wrapped_cause_decides_and_the_message_is_one_line():
    try:
        try:
            raise httpx2.RemoteProtocolError("peer went\naway", request=_request())
        except httpx2.RemoteProtocolError as inner:
            raise RuntimeError("Connection error.") from inner
    except RuntimeError as exc:
        event = failure(exc)

    assert event.kind is FailureKind.DROPPED and event.status is None
    assert event.error == "connection dropped before the answer was complete (peer went away)"


def test_a_timeout_is_worded_by_the_deadline_the_user_set():
    event = failure(httpx2.ReadTimeout("", request=_request()), timeout=2.5)
    assert (event.error, event.kind) == ("timed out after 2.5 s", FailureKind.TIMEOUT)


@pytest.mark.parametrize(
    ("name", "status", "kind"),
    [
        ("AuthenticationError", 401, FailureKind.AUTH),
        ("PermissionDeniedError", 403, FailureKind.AUTH),
        ("RateLimitError", 429, FailureKind.RATE_LIMITED),
        ("NotFoundError", 404, FailureKind.NOT_FOUND),
        ("InternalServerError", 503, FailureKind.HTTP),
    ],
)
@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_status_errors_of_openai_and_anthropic(sdk: str, name: str, status: int, kind: str):
    module = pytest.importorskip(sdk)
    response = httpx2.Response(status, request=_request())
    body = {"error": {"message": f"the server says {status}"}}
    exc = getattr(module, name)(f"Error code: {status} - {body}", response=response, body=body)

    event = make_adapter(f"{sdk}:m").failure(exc)
    assert (event.kind, event.status) == (kind, status)
    assert event.error == f"HTTP {status}: the server says {status}"


def test_ollama_error_bodies_read_as_the_servers_words():
    import ollama

    adapter = make_adapter("ollama:m")
    nested = adapter.failure(ollama.ResponseError('{"error": {"message": "no such model"}}', 404))
    plain = adapter.failure(ollama.ResponseError("model is loading", 503))

    assert (nested.error, nested.kind, nested.status) == (
        "HTTP 404: no such model",
        "not_found",
        404,
    )
    assert (plain.error, plain.kind) == ("HTTP 503: model is loading", FailureKind.HTTP)


def test_gemini_errors_are_classified_by_code():
    from google.genai import errors

    adapter = make_adapter("gemini:m")
    body = {"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}}
    event = adapter.failure(errors.ClientError(429, body))

    assert (event.error, event.kind, event.status) == ("HTTP 429: quota", "rate_limited", 429)
    assert describe_error(ValueError("x\ny")) == "ValueError: x y"


# --- the command line, through each SDK's wire format -------------------------------------

QUICK = "fast,tokens=30,tps=400,ttft=0.02,jitter=0"
FAULTS = {
    "unauthorized": ("auth", 401),
    "ratelimited": ("rate_limited", 429),
    "nope": ("not_found", 404),
    "error": ("http", 500),
    f"{QUICK},fault=drop,after=8": ("dropped", None),
    f"{QUICK},fault=malformed,after=8": ("malformed", None),
    f"{QUICK},fault=stall,after=5": ("timeout", None),
    QUICK: (None, None),
}


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini", "ollama"])
def test_run_json_says_what_kind_of_failure_each_model_had(provider: str, sim_env: str):
    args = [arg for model in FAULTS for arg in ("-m", f"{provider}:{model}")]
    out = modelrace(
        "run", "hi", *args, "--mode", "async", "--timeout", "1.5", "--json", sim=sim_env
    )

    assert out.returncode == 1, out.stderr
    [run] = json.loads(out.stdout)["runs"]
    seen = {r["model"]: (r["error_kind"], r["http_status"]) for r in run["results"]}
    assert seen == {f"{provider}:{model}": want for model, want in FAULTS.items()}
    for r in run["results"]:
        assert r["ok"] is (r["error_kind"] is None)
        assert r["error_kind"] is None or ("\n" not in r["error"] and "{" not in r["error"])


class _Scripted(BaseHTTPRequestHandler):
    """Answers every POST with the status, content type and body the test scripted."""

    script: tuple[int, str, bytes] = (200, "text/plain", b"")
    url = ""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        status, content_type, body = self.script
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[type[_Scripted]]:
    handler: type[_Scripted] = type("Handler", (_Scripted,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


def test_an_unnamed_anthropic_event_is_malformed_not_an_early_end(scripted, monkeypatch):
    start = {"type": "message_start", "message": {"usage": {"input_tokens": 3}}}
    delta = {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Hel"}}
    body = (
        f"event: message_start\ndata: {json.dumps(start)}\n\n"
        f"event: content_block_delta\ndata: {json.dumps(delta)}\n\n"
        'data: {"broken": \n\n'
    ).encode()
    scripted.script = (200, "text/event-stream", body)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", scripted.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")

    out = modelrace("run", "hi", "-m", "anthropic:x", "--mode", "sync", "--json", sim="")

    [result] = json.loads(out.stdout)["runs"][0]["results"]
    assert (result["error_kind"], result["text"]) == ("malformed", "Hel"), result
    assert result["error"].startswith("malformed chunk in the response")


def _openai_chunk(content: str | None = None, reason: str | None = None, **extra: object) -> str:
    choice = {"index": 0, "delta": {} if content is None else {"content": content}}
    choices = [{**choice, "finish_reason": reason}]
    chunk = {"id": "c", "object": "chat.completion.chunk", "model": "x", "choices": choices}
    return json.dumps({**chunk, **extra}, ensure_ascii=False)


def _run_openai_against(
    scripted: type[_Scripted],
    monkeypatch,
    body: str,
    mode: str,
    content_type: str = "text/event-stream",
    *extra: str,
) -> dict:
    scripted.script = (200, content_type, body.encode())
    return _run_openai(scripted.url, monkeypatch, mode, *extra)


def _run_openai(url: str, monkeypatch, mode: str, *extra: str) -> dict:
    monkeypatch.setenv("OPENAI_BASE_URL", url + "/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    out = modelrace("run", "hi", "-m", "openai:x", "--mode", mode, "--json", *extra, sim="")
    [result] = json.loads(out.stdout)["runs"][0]["results"]
    return result


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_openai_stream_reads_through_keepalives_pings_empty_events_and_crlf(
    scripted, monkeypatch, mode
):
    usage = {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7}
    split = _openai_chunk("lo, ").replace(', "model"', ',\ndata:  "model"', 1)
    body = (
        ": keep-alive\r\n\r\n"
        f"data: {_openai_chunk('Hel')}\r\n\r\n"
        "data:\n\n"
        'event: ping\ndata: {"type": "ping"}\n\n'
        f"data: {split}\n\n"
        ": another comment\n"
        f"data:{_openai_chunk('world', 'stop')}\n\n"
        f"data: {_openai_chunk(choices=[], usage=usage)}\n\n"
        "data: [DONE]\n\n"
    )
    result = _run_openai_against(scripted, monkeypatch, body, mode)

    assert (result["ok"], result["text"], result["error"]) == (True, "Hello, world", None)
    assert (result["input_tokens"], result["output_tokens"]) == (4, 3)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_error_inside_an_openai_stream_shows_its_message_and_keeps_the_text(
    scripted, monkeypatch, mode
):
    error = {"error": {"message": "The server is overloaded", "type": "server_error"}}
    body = f"data: {_openai_chunk('Hel')}\n\ndata: {json.dumps(error)}\n\n"
    result = _run_openai_against(scripted, monkeypatch, body, mode)

    assert (result["ok"], result["text"]) == (False, "Hel")
    assert result["error"] == "The server is overloaded"


@pytest.mark.parametrize(
    "bad",
    [
        '{"choices": "nope"}',
        '{"choices": [{"delta": "nope"}]}',
        '["a", "list"]',
        '{"choices": [{"delta": {"content": 42}}]}',
    ],
)
def test_an_openai_chunk_of_the_wrong_shape_is_malformed(scripted, monkeypatch, bad):
    body = f"data: {_openai_chunk('Hel')}\n\ndata: {bad}\n\ndata: [DONE]\n\n"
    result = _run_openai_against(scripted, monkeypatch, body, "async")

    assert (result["error_kind"], result["text"]) == ("malformed", "Hel"), result
    assert result["error"].startswith("malformed chunk in the response")


def test_an_openai_stream_that_ends_without_done_is_not_finished(scripted, monkeypatch):
    body = f"data: {_openai_chunk('Hel')}\n\n"
    result = _run_openai_against(scripted, monkeypatch, body, "async")

    assert (result["ok"], result["text"], result["error_kind"]) == (False, "Hel", "dropped")


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_openai_answer_is_whole_at_done_though_the_server_holds_the_body_open(mode, monkeypatch):
    """After `[DONE]` a server keeps sending keep-alives for 30 s before it ends the body: the
    answer is done at `[DONE]`, not timed out, and the run does not wait for the body."""
    usage = {"prompt_tokens": 2, "completion_tokens": 1}
    events = [
        f"data: {_openai_chunk('Hel', 'stop')}\n\n",
        f"data: {_openai_chunk(choices=[], usage=usage)}\n\n",
        "data: [DONE]\n\n",
    ]
    server, url = _held_open(events)
    try:
        started = time.monotonic()
        result = _run_openai(url, monkeypatch, mode, "--timeout", "20")
        took = time.monotonic() - started
    finally:
        server.shutdown()
        server.server_close()
    assert (result["ok"], result["text"], result["error"]) == (True, "Hel", None)
    assert result["output_tokens"] == 1
    assert took < 15, took  # not held to the 20 s deadline by the open body


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_anthropic_answer_is_whole_at_message_stop_though_the_body_stays_open(mode, monkeypatch):
    start = {"type": "message_start", "message": {"usage": {"input_tokens": 3}}}
    delta = {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Hel"}}
    stop = {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn"},
        "usage": {"output_tokens": 1},
    }
    events = [
        f"event: {e['type']}\ndata: {json.dumps(e)}\n\n"
        for e in (start, delta, stop, {"type": "message_stop"})
    ]
    server, url = _held_open(events)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    try:
        started = time.monotonic()
        out = modelrace(
            "run", "hi", "-m", "anthropic:x", "--mode", mode, "--json", "--timeout", "20", sim=""
        )
        took = time.monotonic() - started
    finally:
        server.shutdown()
        server.server_close()
    [result] = json.loads(out.stdout)["runs"][0]["results"]
    assert (result["ok"], result["text"], result["error"]) == (True, "Hel", None), result
    assert (result["input_tokens"], result["output_tokens"]) == (3, 1)
    assert took < 15, took


def _held_open(events: list[str]) -> tuple[ThreadingHTTPServer, str]:
    """A server that streams `events` in chunked encoding, then only `: ping`s for 30 s."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            try:
                for event in [*events, *[": ping\n\n"] * 300]:
                    data = event.encode()
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()
                    if event.startswith(":"):
                        time.sleep(0.1)
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_openai_stream_splits_lines_only_at_line_ends_and_reads_utf8(
    scripted, monkeypatch, mode
):
    # U+2028, U+2029 and U+0085 are line ends to str.splitlines, not to an event stream; the
    # charset in the header is wrong on purpose: event streams are UTF-8.
    text = "caf\u00e9 a\u2028b\u2029c\u0085d"
    body = "\ufeff" + f"data: {_openai_chunk(text, 'stop')}\n\ndata: [DONE]\n\n"
    assert "\u2028" in body  # raw, as llama.cpp and vLLM send it
    result = _run_openai_against(
        scripted, monkeypatch, body, mode, "text/event-stream; charset=iso-8859-1"
    )

    assert (result["ok"], result["text"]) == (True, text), result


def test_openai_chunks_in_events_named_message_and_content_in_parts_are_read(scripted, monkeypatch):
    parts = [{"type": "thinking", "thinking": "hmm"}, {"type": "text", "text": "lo"}]
    body = (
        f"event: message\ndata: {_openai_chunk('Hel')}\n\n"
        f"event:\ndata: {_openai_chunk(parts)}\n\n"
        "event: progress\ndata: 42%\n\n"
        f"data: {_openai_chunk('!', 'stop')}\n\ndata: [DONE]\n\n"
    )
    result = _run_openai_against(scripted, monkeypatch, body, "async")

    assert (result["ok"], result["text"]) == (True, "Hello!"), result


@pytest.mark.parametrize(
    ("error", "message", "kind"),
    [
        (
            {"error": "Input validation error", "error_type": "validation"},
            "Input validation error",
            "other",
        ),
        ({"object": "error", "message": "boom", "code": 400}, "HTTP 400: boom", "http"),
        ({"error": {"message": "slow down", "code": 429}}, "HTTP 429: slow down", "rate_limited"),
    ],
    ids=["tgi", "vllm", "nested-code"],
)
def test_other_servers_in_stream_errors_show_their_words(
    scripted, monkeypatch, error, message, kind
):
    body = f"data: {_openai_chunk('Hel')}\n\ndata: {json.dumps(error)}\n\n"
    result = _run_openai_against(scripted, monkeypatch, body, "async")

    assert (result["ok"], result["text"], result["error_kind"]) == (False, "Hel", kind), result
    assert result["error"] == message


def test_an_ollama_error_shows_the_servers_message_not_a_dict(scripted, monkeypatch):
    body = json.dumps({"error": {"message": "model 'x' not found", "type": "not_found"}})
    scripted.script = (404, "application/json", body.encode())
    monkeypatch.setenv("OLLAMA_HOST", scripted.url)

    out = modelrace("run", "hi", "-m", "ollama:x", "--mode", "async", "--json", sim="")

    [result] = json.loads(out.stdout)["runs"][0]["results"]
    assert result["error"] == "HTTP 404: model 'x' not found"
    assert (result["error_kind"], result["http_status"]) == ("not_found", 404)
