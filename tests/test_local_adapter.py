"""`local:` end to end: the bundled SmolLM2 in llama.cpp, through the OpenAI SDK."""

from __future__ import annotations

import os

import pytest

from providers import Finished, Request, TextDelta, Usage, make_adapter
from providers.local import get_local_server, resolve_model_path, shutdown_local_servers
from providers.race import Race, parse_mode

SHORT = Request("Say hello.", max_tokens=8, temperature=0)


@pytest.fixture(scope="module", autouse=True)
def _stop_servers_after():
    yield
    shutdown_local_servers()


def test_sync_answer_with_usage():
    events = list(make_adapter("local:smollm2").stream_sync(SHORT))

    assert isinstance(events[-1], Finished), events[-1]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)).strip()
    usage = [e for e in events if isinstance(e, Usage)]
    assert usage and 0 < usage[-1].output_tokens <= 8


async def test_async_answer_and_two_requests_overlap():
    adapters = [make_adapter("local:smollm2") for _ in range(2)]
    [run] = await Race(adapters, SHORT, parse_mode("async")).run()

    assert all(r.ok and r.text.strip() and r.reported_output_tokens for r in run.results)
    first, second = sorted(run.results, key=lambda r: r.start)
    assert second.start < first.end  # both in flight at once


async def test_a_bad_gguf_fails_cleanly_beside_a_good_model(tmp_path):
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a model at all")
    adapters = [make_adapter(f"local:{junk}"), make_adapter("local:smollm2")]
    [run] = await Race(adapters, SHORT, parse_mode("async")).run()

    bad, good = run.results
    assert bad.error == f"not a GGUF model file: {junk}"
    assert good.ok


def test_the_server_process_is_gone_after_shutdown():
    list(make_adapter("local:smollm2").stream_sync(SHORT))
    server = get_local_server(resolve_model_path("smollm2"))
    assert server is not None and server.pid is not None
    pid = server.pid
    shutdown_local_servers()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
