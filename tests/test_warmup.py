"""A fresh process's first request costs what its fifth does, and preparing spends no token.

Each case is a new Python process (the costs measured are once per process) that prepares one
adapter's client through the race engine's own `prepare_clients`, says so, waits, then makes
five calls to a simulator in this process and prints each call's time to first token.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from providers.catalog import pointed_at
from providers.environment import loopback_no_proxy
from providers.sim import SimServer
from providers.sim.server import is_model_route

ROOT = Path(__file__).resolve().parents[1]
MODEL = "fast,ttft=0.03,tps=1000,tokens=3,jitter=0"
CALLS = 5
# Without the warm-up the first call is 7–40 ms slower for every SDK but Ollama's sync client
# (about 2 ms); with it they agree to about 1 ms.
TOLERANCE_MS = 5.0
# Async first calls were 13–33 ms slower without the warm-up; on a loaded machine (other
# processes on both cores) a warmed async first call still reads up to ~6 ms off.
ASYNC_TOLERANCE_MS = 8.0

CHILD = """
import asyncio, json, sys
from providers import Request, TextDelta, make_adapter
from providers.race import prepare_clients

provider, way, calls = sys.argv[1], sys.argv[2], int(sys.argv[3])
adapter = make_adapter(f"{provider}:{sys.argv[4]}")
request = Request("Explain asyncio.")
ttfts = []

def note(events):
    first = next(e for e in events if isinstance(e, TextDelta))
    ttfts.append((first.t - events[0].t) * 1000)

def prepared():
    print("prepared", flush=True)
    sys.stdin.readline()

async def run_async():
    await prepare_clients([adapter], False, None)
    prepared()
    for _ in range(calls):
        note([e async for e in adapter.stream_async(request)])
    await adapter.aclose()

if way == "sync":
    asyncio.run(prepare_clients([adapter], True, None))
    prepared()
    for _ in range(calls):
        note(list(adapter.stream_sync(request)))
else:
    asyncio.run(run_async())
print(json.dumps(ttfts), flush=True)
"""


Run = tuple[list[tuple[str, str]], list[float]]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    loopback_no_proxy()
    with SimServer() as server:
        yield server


def child_env(url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(pointed_at(url, "test"), PYTHONPATH=str(ROOT))
    env.pop("GOOGLE_API_KEY", None)
    return env


def fresh_process(sim: SimServer, provider: str, way: str) -> Run:
    """Requests the simulator saw while the child prepared, and the child's TTFTs in ms."""
    cmd = [sys.executable, "-c", CHILD, provider, way, str(CALLS), MODEL]
    with subprocess.Popen(
        cmd,
        env=child_env(sim.url or ""),
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        seen = len(sim.requests)
        line = child.stdout.readline()
        during_preparation = list(sim.requests)[seen:]
        assert line.strip() == "prepared", child.stderr.read() if child.stderr else ""
        out, err = child.communicate("go\n", timeout=60)
    assert child.returncode == 0, err
    return during_preparation, json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def runs(sim: SimServer) -> dict[tuple[str, str], list[Run]]:
    """Fresh-process runs kept per (provider, way), so both properties are read off the same
    processes instead of paying each SDK's import again."""
    return {}


def runs_of(
    sim: SimServer, runs: dict[tuple[str, str], list[Run]], provider: str, way: str, n: int
) -> list[Run]:
    done = runs.setdefault((provider, way), [])
    while len(done) < n:
        done.append(fresh_process(sim, provider, way))
    return done[:n]


def gap(ttfts: list[float]) -> float:
    """First call's time to first token minus the later calls' median, in ms."""
    return ttfts[0] - statistics.median(ttfts[1:])


@pytest.mark.parametrize("way", ["sync", "async"])
@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini", "ollama"])
def test_first_request_of_a_process_costs_what_the_fifth_does(
    sim: SimServer, runs: dict[tuple[str, str], list[Run]], provider: str, way: str
):
    tolerance = ASYNC_TOLERANCE_MS if way == "async" else TOLERANCE_MS
    # The median of three processes, stopping as soon as two agree either way.
    gaps = [gap(ttfts) for _, ttfts in runs_of(sim, runs, provider, way, 2)]
    if (abs(gaps[0]) <= tolerance) != (abs(gaps[1]) <= tolerance):
        gaps = [gap(ttfts) for _, ttfts in runs_of(sim, runs, provider, way, 3)]
    assert abs(statistics.median(gaps)) <= tolerance, f"first minus later TTFT, ms: {gaps}"


@pytest.mark.parametrize("way", ["sync", "async"])
@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini", "ollama", "sim"])
def test_preparing_sends_no_model_request(
    sim: SimServer,
    runs: dict[tuple[str, str], list[Run]],
    provider: str,
    way: str,
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("MODELRACE_SIM_URL", sim.url or "")
    for during, ttfts in runs_of(sim, runs, provider, way, 1):
        assert [r for r in during if is_model_route(r[1]) or r[0] != "GET"] == []
        assert len(ttfts) == CALLS  # the calls themselves did reach the simulator
