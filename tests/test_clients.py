"""SDK clients are built once per (provider, base URL, key, timeout) and kept while they serve.

Races over the real OpenAI SDK and a simulator of this module's own, so the connections the
kernel lists as open to it are this module's alone.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from providers.bench.sweep import closed_loop
from providers.catalog import pointed_at
from providers.clients import ClientPool
from providers.config import Config
from providers.race import Race, parse_mode, prepare_clients, side_connections
from providers.record import Run, State
from providers.registry import make_adapter
from providers.request import Request
from providers.sim import SimServer, expected_answer
from tui.app import ModelRaceApp
from tui.commands.run import run_headless
from tui.history import PromptHistory

MODELS = [f"sim:fast,tokens=5,tps=500,ttft=0.02,jitter=0,seed={i}" for i in range(4)]
PROMPT = "Explain asyncio."
FAILING = "sim:fast,tokens=5,tps=500,ttft=0.02,fault=drop,after=2"


@pytest.fixture(scope="module")
def sim(module_sim: SimServer) -> SimServer:
    return module_sim


def open_to(server: SimServer) -> set[int]:
    """Local ports of the established TCP connections to the simulator, as the kernel lists
    them: the sockets clients hold open."""
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, state = fields[1], fields[2], fields[3]
            if state == "01" and int(remote.rsplit(":", 1)[1], 16) == server.port:
                ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


def race(mode: str, pool: ClientPool | None, models: list[str] = MODELS) -> Race:
    return Race([make_adapter(m) for m in models], Request(PROMPT), parse_mode(mode), clients=pool)


def answers(runs: list[Run]) -> list[list[str]]:
    return [[r.text for r in run.results] for run in runs]


def expected(models: list[str] = MODELS) -> list[str]:
    return [expected_answer(m.split(":", 1)[1], PROMPT) for m in models]


def test_two_races_in_a_row_reuse_the_same_clients(sim: SimServer) -> None:
    async def two_races() -> tuple[list[object], list[object], list[list[str]]]:
        pool = ClientPool()
        first = await race("async", pool).run()
        kept = pool.clients()
        second = await race("async", pool).run()
        again = pool.clients()
        await pool.aclose()
        return kept, again, answers(first) + answers(second)

    kept, again, texts = asyncio.run(two_races())
    assert texts == [expected(), expected()]
    # Four models of one provider, endpoint and key: one client, the same for both races.
    assert len(kept) == 1
    assert [id(c) for c in again] == [id(c) for c in kept]


def test_both_builds_each_client_once_and_a_second_race_builds_none(sim: SimServer) -> None:
    async def races() -> tuple[list[int], list[int]]:
        pool = ClientPool()
        runs = await race("both", pool).run()
        assert answers(runs) == [expected(), expected()]
        s = pool.stats()
        after_one = [s.built_sync, s.built_async]
        await race("both", pool).run()
        s = pool.stats()
        after_two = [s.built_sync, s.built_async]
        await pool.aclose()
        return after_one, after_two

    after_one, after_two = asyncio.run(races())
    assert after_one == [1, 1]  # one sync client for the sync side, one async for the other
    assert after_two == [1, 1]


def test_a_warm_client_is_not_warmed_again_and_its_connections_are_reused(
    sim: SimServer,
) -> None:
    async def races() -> tuple[int, int, set[int], set[int], set[int]]:
        pool = ClientPool()
        await race("async", pool).run()
        warmed = pool.stats().warm_calls
        before = open_to(sim)
        runs = await race("async", pool).run()
        assert answers(runs) == [expected()]
        after = open_to(sim)
        warmed_again = pool.stats().warm_calls
        await pool.aclose()
        return warmed, warmed_again, before, after, open_to(sim)

    warmed, warmed_again, before, after, closed = asyncio.run(races())
    # Four models in flight at once: four connections opened before the first clock...
    assert warmed == len(MODELS)
    assert len(before) == len(MODELS)
    # ...and the second race streams over those very connections, opening none of its own.
    assert warmed_again == warmed
    assert after == before
    assert closed == set()


def test_a_race_with_a_failure_has_the_next_one_warm_its_connections_again(
    sim: SimServer,
) -> None:
    async def races() -> list[int]:
        pool = ClientPool()
        calls = []
        for models in ([*MODELS, FAILING], MODELS):
            await race("async", pool, models).run()
            calls.append(pool.stats().warm_calls)
        await pool.aclose()
        return calls

    first, second = asyncio.run(races())
    assert first == len(MODELS) + 1
    assert second == first + len(MODELS)


def test_different_keys_or_base_urls_get_different_clients(
    sim: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = sim.url or ""
    other_url = url.replace("127.0.0.1", "localhost")
    model = "openai:fast,tokens=3,tps=500,ttft=0.01,jitter=0"
    settings = [
        ("key-one", url),
        ("key-two", url),
        ("key-one", other_url),
        ("key-one", url),  # the first again
    ]

    async def races() -> list[int]:
        pool = ClientPool()
        seen = []
        for key, base in settings:
            monkeypatch.setenv("OPENAI_API_KEY", key)
            monkeypatch.setenv("OPENAI_BASE_URL", base + "/v1")
            [run] = await race("async", pool, [model]).run()
            assert run.results[0].state is State.DONE, run.results[0].error
            seen.append(len(pool.clients()))
        await pool.aclose()
        return seen

    assert asyncio.run(races()) == [1, 2, 3, 3]


def test_a_race_without_a_pool_closes_its_clients(sim: SimServer) -> None:
    async def one() -> list[list[str]]:
        return answers(await race("both", None).run())

    assert asyncio.run(one()) == [expected(), expected()]
    assert open_to(sim) == set()


@pytest.mark.parametrize("mode", ["sync", "threads"])
def test_cancelled_races_leave_no_thread_blocked_on_a_closed_connection(
    sim: SimServer, mode: str
) -> None:
    """A cancelled race returns before its sync read has ended; closing its clients then must
    not close the socket the watchdog is about to shut down (the read would stay blocked until
    the stalled server sends again: here, a minute)."""
    stall = "sim:stall,ttft=0.01,tps=600,after=3,stall=60"

    def threads() -> int:
        return len(list(Path("/proc/self/task").iterdir()))

    async def races() -> list[str]:
        states = []
        for _ in range(6):
            contest = Race(
                [make_adapter(MODELS[0]), make_adapter(stall)], Request(PROMPT), parse_mode(mode)
            )
            asyncio.get_running_loop().call_later(0.3, contest.cancel)
            [run] = await contest.run()
            states.append(str(run.results[-1].state))
        await asyncio.sleep(0.5)  # the watchdog ends a cancelled read within 50 ms
        return states

    before = threads()
    assert asyncio.run(races()) == ["cancelled"] * 6
    assert threads() <= before + 2  # the watchdog's thread and one executor worker at most


def test_a_headless_run_leaves_no_connection_open(
    sim: SimServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status = run_headless(
        MODELS, Request(PROMPT), parse_mode("both"), Config(), as_json=True, save=False
    )
    assert status == 0
    doc = json.loads(capsys.readouterr().out)
    assert [[r["text"] for r in run["results"]] for run in doc["runs"]] == [
        expected(),
        expected(),
    ]
    assert open_to(sim) == set()


async def test_the_dashboard_keeps_its_clients_across_races_and_closes_them_on_exit(
    sim: SimServer, tmp_path: Path
) -> None:
    app = ModelRaceApp(MODELS[:2], history=PromptHistory(tmp_path / "h"), mode="both")
    async with app.run_test(size=(160, 48)) as pilot:
        for prompt in ("first", "second"):
            app.prompt_box.load_text(prompt)
            await pilot.press("enter")
            for _ in range(200):
                await pilot.pause(0.05)
                if app.race is not None and all(r.over for r in app.race.runs):
                    break
            assert app.race is not None
            assert all(r.state is State.DONE for run in app.race.runs for r in run.results)
        stats = app.clients.stats()
        clients = app.clients.clients()
        assert (stats.built_sync, stats.built_async) == (1, 1)
        assert open_to(sim)
    assert [c.is_closed() for c in clients] == [True, True]
    assert open_to(sim) == set()


@pytest.mark.parametrize("mode", ["async", "threads", "limit=2", "sync"])
def test_each_stream_finds_its_connection_open_before_the_clock(sim: SimServer, mode: str) -> None:
    """As many connections as the side has requests in flight are open once preparing ends,
    and the race then streams over exactly those."""

    async def go() -> tuple[set[int], set[int], bool]:
        pool = ClientPool()
        contest = race(mode, pool)
        side = contest.mode.sides()[0]
        await prepare_clients(
            contest.adapters,
            side.name != "async" and side.name != "limit",
            None,
            side_connections(side, contest.runs[0]),
        )
        ready = open_to(sim)
        [run] = await contest.run()
        after = open_to(sim)
        await pool.aclose()
        return ready, after, all(r.ok for r in run.results)

    ready, after, ok = asyncio.run(go())
    assert ok
    assert len(ready) == {"async": 4, "threads": 4, "limit=2": 2, "sync": 1}[mode]
    assert after == ready


def test_a_sweep_level_finds_a_connection_open_for_each_request_it_keeps_in_flight(
    sim: SimServer,
) -> None:
    """A level of 4 keeps 4 requests in flight on one model: all 4 connections are opened
    before its clock, and the level streams over exactly those."""

    async def go() -> tuple[set[int], set[int], int, list[bool]]:
        warmed = ClientPool()
        adapter = make_adapter(MODELS[0])
        adapter.share_clients(warmed)
        await prepare_clients([adapter], False, None, each=4)
        ready = open_to(sim)
        level = await closed_loop(adapter, Request(PROMPT), 4, requests=8)
        after = open_to(sim)
        await warmed.aclose()
        # From cold, the sweep's own preparing opens them.
        cold = ClientPool()
        adapter = make_adapter(MODELS[0])
        adapter.share_clients(cold)
        await closed_loop(adapter, Request(PROMPT), 4, requests=4)
        calls = [cold.stats().warm_calls]
        await cold.aclose()
        # Two requests at a level of 4 never have more than two in flight.
        few = ClientPool()
        adapter = make_adapter(MODELS[0])
        adapter.share_clients(few)
        await closed_loop(adapter, Request(PROMPT), 4, requests=2)
        calls.append(few.stats().warm_calls)
        await few.aclose()
        return ready, after, calls, [s.ok for s in level.samples]

    ready, after, calls, ok = asyncio.run(go())
    assert ok == [True] * 8
    assert len(ready) == 4
    assert after == ready
    assert calls == [4, 2]


def test_the_key_is_told_apart_by_a_digest_and_never_shown(
    sim: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-test-do-not-show-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("OPENAI_BASE_URL", (sim.url or "") + "/v1")

    async def described() -> str:
        pool = ClientPool()
        adapter = make_adapter("openai:fast,tokens=3,tps=500,ttft=0.01,jitter=0")
        adapter.share_clients(pool)
        await prepare_clients([adapter], False, None)
        pooled = adapter.client_for(asyncio.get_running_loop())
        text = f"{pooled!r} {pooled.key!r} {pool.stats()!r}" if pooled else ""
        await pool.aclose()
        return text

    text = asyncio.run(described())
    assert "ClientKey(kind='async'" in text
    assert secret not in text
    assert secret[3:20] not in text


def test_many_models_of_one_key_share_a_few_clients_the_same_race_after_race(
    sim: SimServer,
) -> None:
    """Eight models at most per async client: one client's connection pool is searched
    connection by connection at every request, which one client for hundreds would pay."""
    many = [f"sim:fast,tokens=3,tps=500,ttft=0.01,jitter=0,seed={i}" for i in range(10)]

    async def races() -> tuple[list[int], list[int], int]:
        pool = ClientPool()
        await race("async", pool, many).run()
        first = [id(c) for c in pool.clients()]
        runs = await race("async", pool, many).run()
        second = [id(c) for c in pool.clients()]
        await pool.aclose()
        return first, second, sum(r.ok for r in runs[0].results)

    first, second, ok = asyncio.run(races())
    assert ok == len(many)
    assert len(first) == 2
    assert second == first


@pytest.mark.parametrize("mode", ["threads", "async"])
@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini", "ollama"])
def test_every_sdk_streams_over_the_connections_opened_before_the_clock(
    sim: SimServer, monkeypatch: pytest.MonkeyPatch, provider: str, mode: str
) -> None:
    for variable, value in pointed_at(sim.url or "", "test").items():
        monkeypatch.setenv(variable, value)
    models = [f"{provider}:fast,tokens=5,tps=500,ttft=0.02,jitter=0,seed={i}" for i in range(4)]

    async def go() -> tuple[set[int], set[int], bool]:
        pool = ClientPool()
        contest = race(mode, pool, models)
        await prepare_clients(contest.adapters, mode == "threads", None, 4)
        ready = open_to(sim)
        [run] = await contest.run()
        after = open_to(sim)
        await pool.aclose()
        return ready, after, all(r.ok for r in run.results)

    ready, after, ok = asyncio.run(go())
    assert ok
    assert len(ready) == 4
    assert after == ready
