"""`--timeout` and cancel hold in every mode, even on a stream that only sends keep-alives.

The server (tests/keepalive_server.py, its own process) answers 200 and then keeps the
connection alive without text, in each provider's wire format. A blocking read on such a
stream never returns by itself: only the deadline or a cancel can end it, and ending it must
not leave a thread or a socket behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cli_helpers import modelrace
from keepalive_server import PARTIAL

from providers import Request, make_adapter
from providers.catalog import pointed_at
from providers.environment import loopback_no_proxy
from providers.race import Race, parse_mode
from providers.record import State

PROVIDERS = ("openai", "anthropic", "gemini", "ollama")
TIMEOUT = 2.0
SERVER = Path(__file__).with_name("keepalive_server.py")


@pytest.fixture(scope="module")
def keepalive_url() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, str(SERVER)], stdout=subprocess.PIPE, text=True, bufsize=1
    )
    try:
        yield proc.stdout.readline().strip()
    finally:
        proc.kill()
        proc.wait()


def sdk_env(url: str) -> dict[str, str]:
    """Every SDK pointed at the keep-alive server, with keys that are only placeholders."""
    return {**pointed_at(url, "test"), "NO_PROXY": "127.0.0.1,localhost"}


def timed_run(provider: str, mode: str, url: str) -> tuple[float, subprocess.CompletedProcess]:
    begun = time.monotonic()
    out = modelrace(
        "run",
        "hi",
        "-m",
        f"{provider}:silent",
        "-m",
        f"{provider}:partial",
        "--mode",
        mode,
        "--timeout",
        str(TIMEOUT),
        "--json",
        sim="http://127.0.0.1:9",  # never used: no sim model in these runs
        **sdk_env(url),
    )
    return time.monotonic() - begun, out


@pytest.mark.parametrize("mode", ["sync", "threads", "async"])
def test_timeout_ends_a_keepalive_only_stream_in_every_mode(mode: str, keepalive_url: str):
    # The four providers run side by side (separate processes) to keep the suite quick.
    with ThreadPoolExecutor(len(PROVIDERS)) as pool:
        outcomes = list(pool.map(lambda p: timed_run(p, mode, keepalive_url), PROVIDERS))

    for provider, (elapsed, out) in zip(PROVIDERS, outcomes, strict=True):
        doc = json.loads(out.stdout)
        [run] = doc["runs"]
        silent, partial = run["results"]
        for result in (silent, partial):
            assert result["error_kind"] == "timeout", (provider, result)
            assert result["state"] == "failed"
            # Ends at its own deadline: not at the next text (none comes), not at 2 × N.
            assert TIMEOUT - 0.05 <= result["end_s"] - result["start_s"] <= TIMEOUT + 0.5, (
                provider,
                result,
            )
        assert silent["text"] == ""
        assert partial["text"] == PARTIAL, provider  # what arrived before the stall is kept
        # The whole process, start-up included, ends too: two requests in a row in sync,
        # side by side otherwise. Start-up takes 0.5-3 s with four processes starting at once
        # and over 6 s on a busy machine, hence 20; a process a stalled read kept alive would
        # run on to modelrace()'s 60 s limit (the server sends keep-alives forever).
        requests_in_a_row = 2 if mode == "sync" else 1
        assert elapsed < requests_in_a_row * TIMEOUT + 20, (provider, elapsed)


def os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def cancelled_sync_race(spec: str) -> tuple[State, str]:
    """A sync race cancelled from another thread once its text is in and it has stalled."""
    race = Race([make_adapter(spec)], Request("hi", timeout=60), parse_mode("sync"))
    [result] = race.runs[0].results

    def cancel_when_stalled() -> None:
        end = time.monotonic() + 10
        while not result.text and time.monotonic() < end:
            time.sleep(0.01)
        time.sleep(0.1)  # keep-alives only, from here on
        race.cancel()

    canceller = threading.Thread(target=cancel_when_stalled)
    canceller.start()
    await race.run()
    canceller.join()
    return result.state, result.text


def settled(baseline: int, count, slack: int, within: float = 5.0) -> int:
    """The count once it is back near the baseline, or its value when time runs out."""
    end = time.monotonic() + within
    while (now := count()) > baseline + slack and time.monotonic() < end:
        time.sleep(0.05)
    return now


async def test_cancelled_sync_races_leave_no_thread_or_socket(
    keepalive_url: str, monkeypatch: pytest.MonkeyPatch
):
    for name, value in sdk_env(keepalive_url).items():
        monkeypatch.setenv(name, value)
    loopback_no_proxy()
    for provider in PROVIDERS:  # SDKs imported, pools and lazy threads created once
        await cancelled_sync_race(f"{provider}:partial")
    time.sleep(0.5)
    threads, fds = os_threads(), open_fds()

    for provider in PROVIDERS:
        for _ in range(10):
            state, text = await cancelled_sync_race(f"{provider}:partial")
            assert state is State.CANCELLED
            assert text == PARTIAL, provider

    # A small constant covers what the SDKs keep for good; 40 stuck requests would not fit.
    assert settled(threads, os_threads, slack=2) <= threads + 2
    assert settled(fds, open_fds, slack=4) <= fds + 4
