"""The llama.cpp server child with the real bundled SmolLM2 model, over plain urllib.

Bounded on purpose: max_tokens <= 16 and short prompts, so the whole module takes seconds.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from providers.local import (
    LocalModelError,
    LocalServer,
    ensure_local_server,
    get_local_server,
    resolve_model_path,
    shutdown_local_servers,
)
from providers.local.paths import engine_available

pytestmark = pytest.mark.skipif(not engine_available(), reason="xllamacpp is not installed")

# Loopback only: a proxy variable in the environment must not capture these requests.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def post(url: str, body: dict) -> urllib.request.Request:
    data = json.dumps(body).encode()
    return urllib.request.Request(url, data, {"Content-Type": "application/json"})


def chat_body(prompt: str, max_tokens: int = 8, stream: bool = False) -> dict:
    body = {
        "model": "smollm2",
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0,
    }
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return body


def stream_chat(base_url: str, prompt: str, max_tokens: int = 16, **extra: object) -> dict:
    """One streaming request; returns its text, usage and first/last chunk times."""
    body = chat_body(prompt, max_tokens, stream=True) | extra
    request = post(base_url + "/chat/completions", body)
    text, usage, stamps, done = [], None, [], False
    with OPENER.open(request, timeout=30) as response:
        for raw in response:
            line = raw.decode().strip()
            if not line.startswith("data: "):
                continue
            if line == "data: [DONE]":
                done = True
                break
            chunk = json.loads(line[len("data: ") :])
            stamps.append(time.perf_counter())
            if chunk.get("usage"):
                usage = chunk["usage"]
            for choice in chunk.get("choices", []):
                text.append(choice["delta"].get("content") or "")
    return {"text": "".join(text), "usage": usage, "first": stamps[0], "last": stamps[-1],
            "done": done}  # fmt: skip


@pytest.fixture(scope="module")
def model_path() -> Path:
    return resolve_model_path("smollm2")


@pytest.fixture(scope="module")
def server(model_path: Path) -> Iterator[LocalServer]:
    local = LocalServer(model_path, parallel=4, ctx_per_slot=512)
    local.start(timeout=60)
    yield local
    local.stop()


def test_start_returns_openai_base_url(server: LocalServer) -> None:
    assert server.base_url.startswith("http://127.0.0.1:")
    assert server.base_url.endswith("/v1")
    assert server.load_seconds is not None and 0 < server.load_seconds < 60
    assert server.running and server.pid


def test_chat_completion_answers(server: LocalServer) -> None:
    request = post(server.base_url + "/chat/completions", chat_body("Say hello.", 8))
    with OPENER.open(request, timeout=30) as response:
        reply = json.load(response)
    assert reply["choices"][0]["message"]["content"].strip()
    assert 0 < reply["usage"]["completion_tokens"] <= 8


def test_stream_reports_usage(server: LocalServer) -> None:
    result = stream_chat(server.base_url, "Name a colour.", max_tokens=8)
    assert result["done"]
    assert result["text"].strip()
    assert 0 < result["usage"]["completion_tokens"] <= 8
    assert result["usage"]["prompt_tokens"] > 0


def test_two_streams_overlap(server: LocalServer) -> None:
    results: list[dict] = []
    prompts = ["Count from one to ten.", "List some fruits."]

    def run(prompt: str) -> None:
        # ignore_eos (a llama.cpp extension) keeps both streams 16 tokens long.
        results.append(stream_chat(server.base_url, prompt, ignore_eos=True))

    threads = [threading.Thread(target=run, args=(p,)) for p in prompts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 2
    first, second = sorted(results, key=lambda r: r["first"])
    # Concurrent slots: the second stream starts before the first one has finished.
    assert second["first"] < first["last"]


def test_missing_model_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    with pytest.raises(LocalModelError, match="no such model file"):
        resolve_model_path(str(missing))
    with pytest.raises(LocalModelError, match="no such model file"):
        LocalServer(missing).start()


def test_not_a_gguf_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"this is not a model" * 10)
    with pytest.raises(LocalModelError, match="not a GGUF model file"):
        resolve_model_path(str(junk))
    with pytest.raises(LocalModelError, match="not a GGUF model file"):
        LocalServer(junk).start()


def test_unknown_bare_name() -> None:
    with pytest.raises(LocalModelError, match="unknown local model 'llama9'"):
        resolve_model_path("llama9")


def test_child_failure_reason_reaches_parent(tmp_path: Path) -> None:
    # Right magic, broken header: only llama.cpp itself can tell, in the child.
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    local = LocalServer(broken)
    with pytest.raises(LocalModelError, match=r"llama\.cpp cannot load .*broken\.gguf"):
        local.start(timeout=30)
    assert not local.running


def test_stop_ends_the_process(model_path: Path) -> None:
    local = LocalServer(model_path, parallel=1, ctx_per_slot=256)
    local.start(timeout=60)
    pid = local.pid
    assert pid
    local.stop()
    local.stop()  # idempotent
    assert not local.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_ensure_local_server_starts_one_process(
    model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    starts: list[int] = []
    real_start = LocalServer.start

    def counting_start(self: LocalServer, timeout: float = 60.0) -> str:
        starts.append(1)
        return real_start(self, timeout)

    monkeypatch.setattr(LocalServer, "start", counting_start)
    try:
        urls: list[str] = []
        threads = [
            threading.Thread(target=lambda: urls.append(ensure_local_server(model_path)))
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(urls) == 2 and urls[0] == urls[1]
        assert ensure_local_server(str(model_path)) == urls[0]
        assert len(starts) == 1
        registered = get_local_server(model_path)
        assert registered is not None and registered.base_url == urls[0]
        pid = registered.pid
    finally:
        shutdown_local_servers()
    assert get_local_server(model_path) is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
