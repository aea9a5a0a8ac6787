"""Every adapter, sync and async, through its real SDK over loopback against the simulator."""

from __future__ import annotations

import re
import time

import pytest

from providers import Failed, Finished, Request, Started, TextDelta, Usage, make_adapter
from providers.events import Event
from providers.sim import expected_answer

PROVIDERS = ["openai", "anthropic", "gemini", "ollama", "sim"]
WAYS = ["sync", "async"]
PROMPT = "Explain asyncio in one sentence."
QUICK = "fast,tokens=30,tps=400,ttft=0.02,jitter=0"


async def collect(way: str, spec: str, request: Request) -> list[Event]:
    adapter = make_adapter(spec)
    if way == "sync":
        return list(adapter.stream_sync(request))
    return [event async for event in adapter.stream_async(request)]


def text_of(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_exact_text_usage_and_ordered_stamps(provider: str, way: str, sim_env: str):
    events = await collect(way, f"{provider}:{QUICK}", Request(PROMPT))

    assert text_of(events) == expected_answer(QUICK, PROMPT)
    assert isinstance(events[0], Started)
    assert isinstance(events[-1], Finished), events[-1]
    usage = [e for e in events if isinstance(e, Usage)]
    assert usage and usage[-1].output_tokens == 30
    assert usage[-1].input_tokens and usage[-1].input_tokens > 0
    stamps = [e.t for e in events]
    assert stamps == sorted(stamps)
    first_delta = next(e for e in events if isinstance(e, TextDelta))
    assert events[0].t <= first_delta.t <= events[-1].t


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_max_tokens_caps_the_answer(provider: str, way: str, sim_env: str):
    events = await collect(way, f"{provider}:{QUICK}", Request(PROMPT, max_tokens=7))

    assert text_of(events) == expected_answer(QUICK, PROMPT, max_tokens=7)
    assert isinstance(events[-1], Finished)
    assert events[-1].reason in ("length", "max_tokens", "MAX_TOKENS")


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    ("fault", "reason_part", "kind"),
    [
        ("drop", "connection|ended before", "dropped"),
        ("malformed", "^malformed chunk in the response", "malformed"),
        ("error", "^HTTP 500: ", "http"),
    ],
)
async def test_faults_fail_with_a_reason_and_keep_partial_text(
    provider: str, way: str, fault: str, reason_part: str, kind: str, sim_env: str
):
    model = f"{QUICK},fault={fault},after=8" if fault != "error" else "error"
    events = await collect(way, f"{provider}:{model}", Request(PROMPT))

    last = events[-1]
    assert isinstance(last, Failed), events
    assert re.search(reason_part, last.error, re.IGNORECASE), last.error
    assert last.kind == kind
    assert "\n" not in last.error and 0 < len(last.error) <= 300
    assert not any(isinstance(e, Finished) for e in events)
    if fault != "error":
        full = expected_answer(model, PROMPT)
        arrived = text_of(events)
        assert arrived and full.startswith(arrived)
        assert len(arrived) < len(full)


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_stalled_stream_times_out_and_keeps_its_text(provider: str, way: str, sim_env: str):
    model = f"{QUICK},fault=stall,after=5"
    began = time.perf_counter()
    events = await collect(way, f"{provider}:{model}", Request(PROMPT, timeout=1.0))
    took = time.perf_counter() - began

    last = events[-1]
    assert isinstance(last, Failed) and last.error == "timed out after 1 s"
    assert last.kind == "timeout"
    assert expected_answer(model, PROMPT).startswith(text_of(events))
    assert len(text_of(events)) > 0
    assert 0.9 < took < 5


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize(
    ("provider", "variable"),
    [
        ("openai", "OPENAI_API_KEY"),
        ("anthropic", "ANTHROPIC_API_KEY"),
        ("gemini", "GEMINI_API_KEY"),
    ],
)
async def test_a_missing_key_names_the_variable(
    provider: str, variable: str, way: str, sim_env: str, monkeypatch: pytest.MonkeyPatch
):
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    events = await collect(way, f"{provider}:some-model", Request(PROMPT))

    assert isinstance(events[-1], Failed) and events[-1].kind == "auth"
    assert variable in events[-1].error and ".env" in events[-1].error


async def test_gemini_accepts_google_api_key_too(sim_env: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("GEMINI_API_KEY")
    events = await collect("async", f"gemini:{QUICK}", Request(PROMPT))
    assert isinstance(events[-1], Finished)


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize(
    ("provider", "variable"),
    [
        ("openai", "OPENAI_API_KEY"),
        ("anthropic", "ANTHROPIC_API_KEY"),
        ("gemini", "GEMINI_API_KEY"),
    ],
)
async def test_a_key_the_server_echoes_back_never_shows(
    provider: str, variable: str, way: str, sim_env: str, monkeypatch: pytest.MonkeyPatch
):
    secret = "k3y-thisisaverysecretvalue0123456789"
    monkeypatch.setenv(variable, secret)
    adapter = make_adapter(f"{provider}:unauthorized")
    events = await collect(way, f"{provider}:unauthorized", Request(PROMPT))

    last = events[-1]
    assert isinstance(last, Failed)
    assert "HTTP 401" in last.error and "Incorrect API key provided: ***" in last.error
    assert secret not in repr(events) and secret not in repr(adapter)
    from providers.environment import redact

    scrubbed = redact(f"Bearer {secret} and sk-abcdefghijklmnop1234")
    assert secret not in scrubbed and "sk-abcdefghijklmnop1234" not in scrubbed
