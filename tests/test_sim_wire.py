"""The simulator through the four official SDKs over loopback: text, usage, limits, faults,
timing and concurrency, sync and async, streaming and not."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import itertools
import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anthropic
import httpx
import httpx2
import ollama
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from providers.sim import (
    PROFILES,
    SimError,
    SimServer,
    count_tokens,
    ensure_sim,
    expected_answer,
    profile_for,
    start_sim_process,
)

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "Why does asyncio make several LLM calls faster?"
QUICK = "fast,ttft=0.01,tps=2000,tokens=20"
SDKS = ["openai", "anthropic", "gemini", "ollama"]
FINISH = {"end_turn": "stop", "max_tokens": "length", "STOP": "stop", "MAX_TOKENS": "length"}


@pytest.fixture(scope="module")
def sim() -> Any:
    for var in ("NO_PROXY", "no_proxy"):
        os.environ.setdefault(var, "127.0.0.1,localhost")
        if "127.0.0.1" not in os.environ[var]:
            os.environ[var] += ",127.0.0.1,localhost"
    with SimServer() as server:
        yield server


@dataclass
class Result:
    """What a driver saw; filled as it goes, so a failing stream leaves its partial text."""

    text: str = ""
    finish: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    first_token_s: float | None = None
    pieces: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    def add(self, piece: str | None) -> None:
        if piece:
            if self.first_token_s is None:
                self.first_token_s = time.perf_counter() - self.started
            self.pieces.append(piece)
            self.text += piece

    def done(self, finish: Any) -> None:
        if finish is not None:
            finish = getattr(finish, "value", finish)
            self.finish = FINISH.get(finish, finish)


_GEMINI_CFG = dict(automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True))


def _clients(sdk: str, url: str, is_async: bool, timeout: float) -> Any:
    if sdk == "openai":
        cls = openai.AsyncOpenAI if is_async else openai.OpenAI
        return cls(base_url=url + "/v1", api_key="sim", max_retries=0, timeout=timeout)
    if sdk == "anthropic":
        cls = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
        return cls(base_url=url, api_key="sim", max_retries=0, timeout=timeout)
    if sdk == "gemini":
        opts = types.HttpOptions(base_url=url, timeout=int(timeout * 1000))
        return genai.Client(api_key="sim", http_options=opts)
    cls = ollama.AsyncClient if is_async else ollama.Client
    return cls(host=url, timeout=timeout)


def chat_sync(
    sdk: str,
    url: str,
    model: str,
    stream: bool,
    r: Result,
    *,
    max_tokens: int | None = None,
    timeout: float = 10,
) -> Result:
    """One chat call through the SDK's sync client, recorded into ``r``."""
    c = _clients(sdk, url, False, timeout)
    msgs = [{"role": "user", "content": PROMPT}]
    if sdk == "openai":
        kw: dict = {"max_tokens": max_tokens} if max_tokens is not None else {}
        if not stream:
            resp = c.chat.completions.create(model=model, messages=msgs, **kw)
            r.add(resp.choices[0].message.content)
            r.done(resp.choices[0].finish_reason)
            r.input_tokens, r.output_tokens = resp.usage.prompt_tokens, resp.usage.completion_tokens
            return r
        for ch in c.chat.completions.create(
            model=model, messages=msgs, stream=True, stream_options={"include_usage": True}, **kw
        ):
            if ch.choices:
                r.add(ch.choices[0].delta.content)
                r.done(ch.choices[0].finish_reason)
            if ch.usage:
                r.input_tokens, r.output_tokens = ch.usage.prompt_tokens, ch.usage.completion_tokens
        return r
    if sdk == "anthropic":
        cap = max_tokens if max_tokens is not None else 4096
        if not stream:
            resp = c.messages.create(model=model, max_tokens=cap, messages=msgs)
            r.add(resp.content[0].text)
            r.done(resp.stop_reason)
            r.input_tokens, r.output_tokens = resp.usage.input_tokens, resp.usage.output_tokens
            return r
        for ev in c.messages.create(model=model, max_tokens=cap, messages=msgs, stream=True):
            _anthropic_event(ev, r)
        return r
    if sdk == "gemini":
        cfg = types.GenerateContentConfig(max_output_tokens=max_tokens, **_GEMINI_CFG)
        if not stream:
            _gemini_chunk(c.models.generate_content(model=model, contents=PROMPT, config=cfg), r)
            return r
        for ch in c.models.generate_content_stream(model=model, contents=PROMPT, config=cfg):
            _gemini_chunk(ch, r)
        return r
    opts = {"num_predict": max_tokens} if max_tokens is not None else None
    if not stream:
        _ollama_chunk(c.chat(model=model, messages=msgs, stream=False, options=opts), r)
        return r
    for ch in c.chat(model=model, messages=msgs, stream=True, options=opts):
        _ollama_chunk(ch, r)
    return r


async def chat_async(
    sdk: str,
    url: str,
    model: str,
    stream: bool,
    r: Result,
    *,
    max_tokens: int | None = None,
    timeout: float = 10,
) -> Result:
    """One chat call through the SDK's async client, recorded into ``r``."""
    c = _clients(sdk, url, True, timeout)
    msgs = [{"role": "user", "content": PROMPT}]
    if sdk == "openai":
        kw: dict = {"max_tokens": max_tokens} if max_tokens is not None else {}
        async with c:
            if not stream:
                resp = await c.chat.completions.create(model=model, messages=msgs, **kw)
                r.add(resp.choices[0].message.content)
                r.done(resp.choices[0].finish_reason)
                r.input_tokens = resp.usage.prompt_tokens
                r.output_tokens = resp.usage.completion_tokens
                return r
            s = await c.chat.completions.create(
                model=model,
                messages=msgs,
                stream=True,
                stream_options={"include_usage": True},
                **kw,
            )
            async for ch in s:
                if ch.choices:
                    r.add(ch.choices[0].delta.content)
                    r.done(ch.choices[0].finish_reason)
                if ch.usage:
                    r.input_tokens = ch.usage.prompt_tokens
                    r.output_tokens = ch.usage.completion_tokens
        return r
    if sdk == "anthropic":
        cap = max_tokens if max_tokens is not None else 4096
        async with c:
            if not stream:
                resp = await c.messages.create(model=model, max_tokens=cap, messages=msgs)
                r.add(resp.content[0].text)
                r.done(resp.stop_reason)
                r.input_tokens, r.output_tokens = resp.usage.input_tokens, resp.usage.output_tokens
                return r
            s = await c.messages.create(model=model, max_tokens=cap, messages=msgs, stream=True)
            async for ev in s:
                _anthropic_event(ev, r)
        return r
    if sdk == "gemini":
        cfg = types.GenerateContentConfig(max_output_tokens=max_tokens, **_GEMINI_CFG)
        if not stream:
            resp = await c.aio.models.generate_content(model=model, contents=PROMPT, config=cfg)
            _gemini_chunk(resp, r)
            return r
        s = await c.aio.models.generate_content_stream(model=model, contents=PROMPT, config=cfg)
        async for ch in s:
            _gemini_chunk(ch, r)
        return r
    opts = {"num_predict": max_tokens} if max_tokens is not None else None
    if not stream:
        _ollama_chunk(await c.chat(model=model, messages=msgs, stream=False, options=opts), r)
        return r
    async for ch in await c.chat(model=model, messages=msgs, stream=True, options=opts):
        _ollama_chunk(ch, r)
    return r


def _anthropic_event(ev: Any, r: Result) -> None:
    if ev.type == "message_start":
        r.input_tokens = ev.message.usage.input_tokens
    elif ev.type == "content_block_delta":
        r.add(ev.delta.text)
    elif ev.type == "message_delta":
        r.output_tokens = ev.usage.output_tokens
        r.done(ev.delta.stop_reason)


def _gemini_chunk(ch: Any, r: Result) -> None:
    r.add(ch.text)
    r.done(ch.candidates[0].finish_reason)
    u = ch.usage_metadata
    if u is not None and u.candidates_token_count is not None:
        r.input_tokens, r.output_tokens = u.prompt_token_count, u.candidates_token_count


def _ollama_chunk(ch: Any, r: Result) -> None:
    r.add(ch.message.content)
    if ch.done:
        r.done(ch.done_reason)
        r.input_tokens, r.output_tokens = ch.prompt_eval_count, ch.eval_count


def call(
    sdk: str, mode: str, url: str, model: str, stream: bool, r: Result | None = None, **kw: Any
) -> Result:
    """Run a chat in ``mode`` ("sync" or "async") from a plain test function."""
    r = r if r is not None else Result()
    if mode == "sync":
        return chat_sync(sdk, url, model, stream, r, **kw)
    return asyncio.run(chat_async(sdk, url, model, stream, r, **kw))


def status_of(exc: BaseException) -> int | None:
    for attr in ("status_code", "code"):
        value = getattr(exc, attr, None)
        if isinstance(value, int):
            return value
    return None


MATRIX = [
    (sdk, mode, stream) for sdk in SDKS for mode in ("sync", "async") for stream in (False, True)
]
IDS = [f"{s}-{m}-{'stream' if st else 'plain'}" for s, m, st in MATRIX]


# ---- answers ------------------------------------------------------------------------------


@pytest.mark.parametrize(("sdk", "mode", "stream"), MATRIX, ids=IDS)
def test_exact_answer_usage_and_finish(sim: SimServer, sdk: str, mode: str, stream: bool) -> None:
    r = call(sdk, mode, sim.url, QUICK, stream)
    want = expected_answer(QUICK, PROMPT)
    assert r.text == want
    assert r.finish == "stop"
    assert r.input_tokens == count_tokens(PROMPT)
    assert r.output_tokens == count_tokens(want) == 20
    if stream:
        assert len(r.pieces) > 1


@pytest.mark.parametrize(("sdk", "mode", "stream"), MATRIX, ids=IDS)
def test_max_tokens_caps(sim: SimServer, sdk: str, mode: str, stream: bool) -> None:
    r = call(sdk, mode, sim.url, QUICK, stream, max_tokens=7)
    assert r.text == expected_answer(QUICK, PROMPT, max_tokens=7)
    assert r.finish == "length"
    assert r.output_tokens == 7


def test_markup_text_arrives_intact(sim: SimServer) -> None:
    r = call("openai", "sync", sim.url, "markup,tps=5000", True)
    assert r.text == expected_answer("markup", PROMPT)
    for needle in ("[bold red]x[/]", "[link=http://x]y[/link]", "\x1b[31m", "\x1b[2J", "**bold**"):
        assert needle in r.text


# ---- faults -------------------------------------------------------------------------------


@pytest.mark.parametrize(("sdk", "mode", "stream"), MATRIX, ids=IDS)
@pytest.mark.parametrize("status", [500, 429, 503])
def test_http_error_raises_status_error(
    sim: SimServer, sdk: str, mode: str, stream: bool, status: int
) -> None:
    model = {500: "error", 429: "ratelimited"}.get(status, f"error,status={status}")
    expected_cls = {
        "openai": openai.APIStatusError,
        "anthropic": anthropic.APIStatusError,
        "gemini": genai_errors.APIError,
        "ollama": ollama.ResponseError,
    }[sdk]
    with pytest.raises(expected_cls) as info:
        call(sdk, mode, sim.url, model, stream)
    assert status_of(info.value) == status


@pytest.mark.parametrize(("sdk", "mode", "stream"), MATRIX, ids=IDS)
def test_unknown_model_is_404(sim: SimServer, sdk: str, mode: str, stream: bool) -> None:
    with pytest.raises(Exception) as info:
        call(sdk, mode, sim.url, "no-such-model", stream)
    assert status_of(info.value) == 404
    assert "unknown sim model 'no-such-model'" in str(info.value)


@pytest.mark.parametrize(("sdk", "mode", "stream"), MATRIX, ids=IDS)
def test_drop_ends_early_without_end_marker(
    sim: SimServer, sdk: str, mode: str, stream: bool
) -> None:
    model = "flaky,ttft=0.01,tps=2000,after=5"
    r = Result()
    # every SDK observed raises on a dropped chunked stream; tolerate a quiet early end too
    with contextlib.suppress(Exception):
        call(sdk, mode, sim.url, model, stream, r)
    full = expected_answer(model, PROMPT)
    assert r.finish is None
    assert full.startswith(r.text) and len(r.text) < len(full)
    if stream:
        assert r.text == "".join(full_pieces(model)[:5])


def full_pieces(model: str) -> list[str]:
    from providers.sim.text import answer_pieces

    return answer_pieces(model, PROMPT)[0]


@pytest.mark.parametrize(("sdk", "mode", "stream"), MATRIX, ids=IDS)
def test_malformed_chunk_raises(sim: SimServer, sdk: str, mode: str, stream: bool) -> None:
    model = "malformed,ttft=0.01,tps=2000,after=3"
    r = Result()
    with pytest.raises(Exception) as info:
        call(sdk, mode, sim.url, model, stream, r)
    assert isinstance(info.value, (ValueError, genai_errors.UnknownApiResponseError))
    assert r.finish is None
    if stream:
        assert r.text == "".join(full_pieces(model)[:3])


@pytest.mark.parametrize("sdk", SDKS)
def test_stall_resumes_after_stall_s(sim: SimServer, sdk: str) -> None:
    model = "stall,ttft=0.01,tps=2000,tokens=10,after=4,stall=0.4"
    t = time.perf_counter()
    r = call(sdk, "sync", sim.url, model, True)
    assert r.text == expected_answer(model, PROMPT)
    assert r.finish == "stop"
    assert time.perf_counter() - t >= 0.38


@pytest.mark.parametrize(("sdk", "mode"), [(s, m) for s in SDKS for m in ("sync", "async")])
def test_stall_times_out_and_server_cleans_up(sim: SimServer, sdk: str, mode: str) -> None:
    r = Result()
    t = time.perf_counter()
    with pytest.raises(Exception) as info:
        call(sdk, mode, sim.url, "stall,after=2", True, r, timeout=0.5)
    assert time.perf_counter() - t < 5
    timeouts = (
        TimeoutError,
        httpx.TimeoutException,
        httpx2.TimeoutException,
        openai.APITimeoutError,
        anthropic.APITimeoutError,
    )
    assert isinstance(info.value, timeouts), repr(info.value)
    assert r.text == "".join(full_pieces("stall,after=2")[:2])
    _wait_no_tasks(sim)


def _wait_no_tasks(sim: SimServer, within: float = 3.0) -> None:
    """The server notices hung-up clients and ends their handlers (no leaked tasks)."""
    deadline = time.perf_counter() + within
    while sim.busy and time.perf_counter() < deadline:
        time.sleep(0.05)
    assert sim.busy == 0


def test_client_hangup_mid_stream_is_quiet(
    sim: SimServer, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG, logger="asyncio")
    for _ in range(5):
        s = socket.create_connection(_addr(sim))
        body = json.dumps(
            {
                "model": "slow,ttft=0",
                "stream": True,
                "messages": [{"role": "user", "content": "hi"}],
            }
        ).encode()
        s.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
            b"application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        assert s.recv(4096).startswith(b"HTTP/1.1 200")
        s.close()
    _wait_no_tasks(sim)
    assert not [rec for rec in caplog.records if rec.levelno >= logging.WARNING]
    assert "Traceback" not in capfd.readouterr().err


# ---- timing and concurrency ---------------------------------------------------------------


@pytest.mark.parametrize(("sdk", "mode"), [(s, m) for s in SDKS for m in ("sync", "async")])
def test_ttft_and_tps_roughly_respected(sim: SimServer, sdk: str, mode: str) -> None:
    r = Result()
    call(sdk, mode, sim.url, "fast,ttft=0.3,tps=100,tokens=30,jitter=0", True, r)
    total = time.perf_counter() - r.started
    assert r.first_token_s is not None and 0.25 <= r.first_token_s < 1.0
    streaming = total - r.first_token_s  # 29 gaps of 10 ms
    assert 0.2 <= streaming < 1.2


def test_non_stream_waits_for_the_whole_answer(sim: SimServer) -> None:
    t = time.perf_counter()
    call("openai", "sync", sim.url, "fast,ttft=0.2,tps=100,tokens=20,jitter=0", False)
    assert 0.35 <= time.perf_counter() - t < 1.5


async def test_32_concurrent_async_streams_overlap(sim: SimServer) -> None:
    model = "fast,ttft=0.3,tps=40,tokens=24,jitter=0.2"  # about 0.9 s each, 29 s in sequence
    t = time.perf_counter()
    jobs = [
        chat_async(SDKS[i % 4], sim.url, f"{model},seed={i}", True, Result()) for i in range(32)
    ]
    results = await asyncio.gather(*jobs)
    wall = time.perf_counter() - t
    assert all(
        r.text == expected_answer(f"{model},seed={i}", PROMPT) for i, r in enumerate(results)
    )
    assert all(r.finish == "stop" for r in results)
    assert wall < 5.0, wall


def test_jitter_is_deterministic_per_model_and_prompt() -> None:
    from providers.sim.server import schedule

    def times(prompt: str) -> list[float]:
        return list(itertools.islice(schedule(p, "hosted", prompt, 0.0), 10))

    p = profile_for("hosted")
    a = times(PROMPT)
    assert a == times(PROMPT)
    assert a != times("another prompt")
    assert all(b > a for a, b in itertools.pairwise(a))


# ---- raw HTTP -----------------------------------------------------------------------------


def _addr(sim: SimServer) -> tuple[str, int]:
    return "127.0.0.1", sim.port


def _http(
    sim: SimServer, method: str, path: str, body: Any = None, headers: dict | None = None
) -> tuple[int, dict]:
    conn = http.client.HTTPConnection(*_addr(sim), timeout=5)
    raw = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    conn.request(method, path, body=raw, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, json.loads(data)


def test_get_endpoints(sim: SimServer) -> None:
    assert _http(sim, "GET", "/health")[0] == 200
    status, models = _http(sim, "GET", "/v1/models")
    assert status == 200 and [m["id"] for m in models["data"]] == list(PROFILES)
    assert [m["name"] for m in _http(sim, "GET", "/api/tags")[1]["models"]] == list(PROFILES)
    assert "version" in _http(sim, "GET", "/api/version")[1]
    models = _http(sim, "GET", "/v1/models", headers={"anthropic-version": "2023-06-01"})[1]
    assert models["data"][0]["type"] == "model"
    assert _http(sim, "GET", "/v1beta/models")[1]["models"][0]["name"] == "models/fast"


def test_bad_bodies_get_400_in_the_provider_shape(sim: SimServer) -> None:
    status, err = _http(sim, "POST", "/v1/chat/completions", b"{not json")
    assert status == 400 and "not valid JSON" in err["error"]["message"]
    status, err = _http(sim, "POST", "/v1/messages", {"model": "fast", "messages": []})
    assert status == 400 and err["type"] == "error"
    status, err = _http(
        sim,
        "POST",
        "/v1/messages",
        {"model": "fast", "messages": [{"role": "user", "content": "x"}]},
    )
    assert status == 400 and "max_tokens" in err["error"]["message"]
    status, err = _http(sim, "POST", "/api/chat", {"messages": []})
    assert status == 400 and isinstance(err["error"], str)
    status, err = _http(sim, "POST", "/v1beta/models/fast:generateContent", {"contents": 3})
    assert status == 400 and err["error"]["status"] == "INVALID_ARGUMENT"
    assert _http(sim, "POST", "/nowhere", {})[0] == 404
    status, err = _http(
        sim,
        "POST",
        "/api/chat",
        {"model": "fast,tps=x", "messages": [{"role": "user", "content": "x"}]},
    )
    assert status == 400 and "bad value for 'tps'" in err["error"]


def test_gemini_v1beta_and_keep_alive(sim: SimServer) -> None:
    conn = http.client.HTTPConnection(*_addr(sim), timeout=5)
    body = {"contents": [{"role": "user", "parts": [{"text": PROMPT}]}]}
    for _ in range(3):  # three requests on one connection
        conn.request("POST", f"/v1beta/models/{QUICK}:generateContent", json.dumps(body))
        resp = conn.getresponse()
        data = json.loads(resp.read())
        assert data["candidates"][0]["content"]["parts"][0]["text"] == expected_answer(
            QUICK, PROMPT
        )
    conn.close()


# ---- profiles and text --------------------------------------------------------------------


def test_profile_overrides_and_errors() -> None:
    p = profile_for(
        "fast,ttft=0.2,tps=50,tokens=40,jitter=0,seed=7,fault=drop,after=10,status=503,stall=5"
    )
    assert (p.ttft_s, p.tokens_per_s, p.tokens, p.jitter, p.seed) == (0.2, 50.0, 40, 0.0, 7)
    assert (p.fault, p.fault_after, p.status, p.stall_s) == ("drop", 10, 503, 5.0)
    assert profile_for("flaky,fault=none").fault is None
    with pytest.raises(SimError, match="unknown sim model 'nope'; known: fast"):
        profile_for("nope")
    for bad in ("fast,tps=x", "fast,color=red", "fast,fault=boom", "fast,tps=0", "fast,ttft"):
        with pytest.raises(SimError) as info:
            profile_for(bad)
        assert "\n" not in str(info.value)


def test_expected_answer_is_deterministic_prose() -> None:
    a = expected_answer("hosted", PROMPT)
    assert a == expected_answer("hosted", PROMPT)
    assert a != expected_answer("hosted", "Tell me about retrieval pipelines")
    assert a != expected_answer("hosted,seed=1", PROMPT)
    assert count_tokens(a) == 120
    assert expected_answer("hosted", PROMPT, max_tokens=5) == "".join(full_pieces("hosted")[:5])
    assert sum(c.isalpha() for c in a) > len(a) / 2


# ---- processes ----------------------------------------------------------------------------


def test_subprocess_starts_serves_stops() -> None:
    with start_sim_process() as proc:
        assert proc.url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(proc.url + "/health", timeout=5) as resp:
            assert resp.status == 200
    assert proc.proc.poll() is not None


def test_port_in_use_exits_2_with_one_line(sim: SimServer) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "providers.sim", "--port", str(sim.port)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert out.returncode == 2
    assert out.stderr == (
        f"modelrace sim: cannot listen on 127.0.0.1:{sim.port}: address already in use\n"
    )


def test_ensure_sim_prefers_env_then_starts_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELRACE_SIM_URL", "http://127.0.0.1:9/")
    assert ensure_sim() == "http://127.0.0.1:9"
    monkeypatch.delenv("MODELRACE_SIM_URL")
    url = ensure_sim()
    assert ensure_sim() == url
    with urllib.request.urlopen(url + "/health", timeout=5) as resp:
        assert resp.status == 200


@pytest.mark.parametrize("tokens", [1, 4, 7, 12, 13, 25, 60, 121, 500])
def test_generated_answers_have_exactly_n_tokens_and_end_a_sentence(tokens: int) -> None:
    from providers.sim.text import count_tokens, generate_text

    for prompt in ("Explain asyncio in one sentence.", "What is RAG?", "hello"):
        text = generate_text("fast", prompt, tokens, seed=3)
        assert count_tokens(text) == tokens
        assert text.endswith("."), text[-40:]


# ---- limits: every knob is capped, long answers are made as they are sent -----------------


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ("tokens=999999999", "tokens must be between 1 and 100000"),
        ("tokens=0", "tokens must be between 1 and 100000"),
        ("ttft=1e9", "ttft must be between 0 and 3600 seconds"),
        ("tps=1e12", "tps must be between 0.1 and 100000"),
        ("tps=0.0001", "tps must be between 0.1 and 100000"),
        ("stall=1e9", "stall must be between 0 and 3600 seconds"),
        ("after=99999999", "after must be between 0 and 100000"),
        ("seed=-1", "seed must be between 0 and 4294967295"),
        ("jitter=5", "jitter must be in [0, 1)"),
        ("ttft=nan", "ttft must be between 0 and 3600 seconds"),
    ],
)
def test_every_knob_has_a_bound(override: str, reason: str) -> None:
    with pytest.raises(SimError) as info:
        profile_for(f"fast,{override}")
    assert str(info.value) == f"bad sim model 'fast,{override}': {reason}"


def test_a_huge_model_name_is_refused_without_echoing_it() -> None:
    name = "fast" + ",seed=1" * 2000
    with pytest.raises(SimError) as info:
        profile_for(name)
    assert str(info.value) == "sim model name too long (14004 characters; at most 200)"


def test_cli_refuses_an_unbounded_sim_model_before_anything_starts() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tui", "run", "hi", "-m", "sim:fast,tokens=999999999"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "MODELRACE_SIM_URL"},
    )
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.count("\n") == 1
    assert "tokens must be between 1 and 100000" in out.stderr


@pytest.mark.parametrize("sdk_path", ["/v1/chat/completions", "/api/chat"])
def test_standalone_sim_answers_400_with_the_reason(sim: SimServer, sdk_path: str) -> None:
    body = {"model": "fast,tokens=3000000", "messages": [{"role": "user", "content": "x"}]}
    status, err = _http(sim, "POST", sdk_path, body)
    message = err["error"] if isinstance(err["error"], str) else err["error"]["message"]
    assert status == 400
    assert message == "bad sim model 'fast,tokens=3000000': tokens must be between 1 and 100000"


def _open_stream(url: str, model: str) -> tuple[socket.socket, str]:
    """POST a streaming chat request; return the socket and the first text piece it sent."""
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps(
        {"model": model, "stream": True, "messages": [{"role": "user", "content": PROMPT}]}
    ).encode()
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    reader = sock.makefile("rb")
    for line in reader:
        if line.startswith(b"data: {"):
            delta = json.loads(line[6:])["choices"][0]["delta"]
            if delta.get("content"):
                return sock, delta["content"]
    raise AssertionError("stream ended before any text")


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/PID/status")
def test_longest_answers_stream_at_once_without_being_made_up_front() -> None:
    """Twenty answers of the largest size (each would take 10^5 s) all send their first
    words, and the simulator's memory hardly moves: nothing is generated ahead of sending."""
    from providers.sim.profiles import MAX_TOKENS

    with start_sim_process() as child:
        warm, _ = _open_stream(child.url, "fast,tokens=20,tps=1,ttft=0")  # imports, buffers
        before = _rss_kib(child.proc.pid)
        opened = []
        try:
            for seed in range(20):
                model = f"fast,tokens={MAX_TOKENS},tps=1,ttft=0,seed={seed}"
                sock, first = _open_stream(child.url, model)
                opened.append(sock)
                assert first == expected_answer(model, PROMPT, max_tokens=1)
            grown_mib = (_rss_kib(child.proc.pid) - before) / 1024
        finally:
            for sock in [warm, *opened]:
                sock.close()
    assert grown_mib < 20, f"{grown_mib:.0f} MiB for 20 open streams"


# ---- shapes of answer: one long line, several tokens to an event --------------------------

ONE_LINE = "fast,ttft=0.01,tps=5000,tokens=150,newlines=off"


@pytest.mark.parametrize("sdk", SDKS)
def test_newlines_off_streams_the_answer_as_one_line(sim: SimServer, sdk: str) -> None:
    r = call(sdk, "async", sim.url, ONE_LINE, True)
    assert r.text == expected_answer(ONE_LINE, PROMPT)
    assert "\n" not in r.text
    assert r.output_tokens == count_tokens(r.text) == 150
    # The same answer with its line breaks kept has paragraphs: the knob removed them.
    assert "\n\n" in expected_answer(ONE_LINE.replace("off", "on"), PROMPT)


BURST = "fast,ttft=0.01,tps=5000,tokens=95,burst=10"


@pytest.mark.parametrize("sdk", SDKS)
def test_burst_sends_k_tokens_to_an_event(sim: SimServer, sdk: str) -> None:
    r = call(sdk, "async", sim.url, BURST, True)
    assert r.text == expected_answer(BURST, PROMPT)
    assert r.output_tokens == 95
    assert [count_tokens(piece) for piece in r.pieces] == [10] * 9 + [5]
    assert r.finish == "stop"


def test_burst_keeps_the_token_rate(sim: SimServer) -> None:
    """20 tokens at 100/s, 10 to an event: two events, the first when its last token is due."""
    model = "fast,ttft=0,tps=100,tokens=20,burst=10"
    r = call("openai", "async", sim.url, model, True)
    assert len(r.pieces) == 2
    assert r.first_token_s is not None
    assert r.first_token_s >= 0.08  # its tenth token is due at 0.09 s, not the first at 0


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ("burst=0", "burst must be between 1 and 10000"),
        ("burst=99999", "burst must be between 1 and 10000"),
    ],
)
def test_burst_is_bounded(override: str, reason: str) -> None:
    with pytest.raises(SimError) as info:
        profile_for(f"fast,{override}")
    assert str(info.value) == f"bad sim model 'fast,{override}': {reason}"


def test_newlines_takes_on_or_off() -> None:
    assert profile_for("fast,newlines=off").newlines is False
    with pytest.raises(SimError, match="bad value for 'newlines'"):
        profile_for("fast,newlines=maybe")
