"""The race engine against the simulator over loopback: overlap, isolation, limits, metrics."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from providers import Request, make_adapter
from providers.race import ModeError, Race, default_pool_size, parse_mode
from providers.record import Result, Run, State, speedup
from providers.sim import expected_answer

PROMPT = "Explain asyncio in one sentence."


def race(models: list[str], mode: str, **settings: Any) -> Race:
    return Race(
        [make_adapter(f"sim:{m}") for m in models], Request(PROMPT, **settings), parse_mode(mode)
    )


def model(ttft: float, tokens: int = 10, tps: int = 100, extra: str = "") -> str:
    return f"fast,ttft={ttft},tokens={tokens},tps={tps},jitter=0{extra}"


def intervals(run: Run) -> list[tuple[float, float]]:
    return [(r.start, r.end) for r in run.results]


def max_in_flight(run: Run) -> int:
    marks = sorted([(s, 1) for s, _ in intervals(run)] + [(e, -1) for _, e in intervals(run)])
    depth = peak = 0
    for _, step in marks:
        depth += step
        peak = max(peak, depth)
    return peak


async def test_async_requests_overlap_and_wall_is_near_the_slowest(sim_env: str):
    models = [model(0.3), model(0.5), model(0.7), model(0.4)]
    [run] = await race(models, "async").run()

    spans = intervals(run)
    assert max(s for s, _ in spans) < min(e for _, e in spans)  # all started before any ended
    assert all(r.ok for r in run.results)
    durations = [e - s for s, e in spans]
    assert max(durations) <= run.wall_s < sum(durations)  # type: ignore[operator]
    assert max_in_flight(run) == 4


async def test_sync_requests_do_not_overlap(sim_env: str):
    [run] = await race([model(0.1), model(0.2), model(0.1)], "sync").run()

    spans = intervals(run)
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(len(spans) - 1))
    assert run.wall_s >= run.ideal_s  # type: ignore[operator]


async def test_limit_two_never_has_more_than_two_in_flight(sim_env: str):
    [run] = await race([model(0.15 + 0.05 * i) for i in range(6)], "limit=2").run()

    assert max_in_flight(run) == 2
    assert run.limit == 2 and all(r.ok for r in run.results)


async def test_threads_mode_says_its_pool_size(sim_env: str):
    [run] = await race([model(0.1), model(0.1)], "threads").run()

    assert run.pool_size == default_pool_size() == min(32, (os.cpu_count() or 1) + 4)
    assert max_in_flight(run) == 2 and all(r.ok for r in run.results)


@pytest.mark.parametrize("mode", ["sync", "async", "threads", "limit=1"])
async def test_a_failing_model_leaves_the_others_intact(sim_env: str, mode: str):
    good = [model(0.1, tokens=20), model(0.2, tokens=25)]
    [run] = await race(
        [good[0], "error", model(0.1, extra=",fault=drop,after=3"), good[1]], mode
    ).run()

    ok = [r for r in run.results if r.ok]
    assert [r.text for r in ok] == [expected_answer(m, PROMPT) for m in good]
    failed = [r for r in run.results if r.state is State.FAILED]
    assert [(r.error_kind, r.http_status) for r in failed] == [("http", 500), ("dropped", None)]
    assert failed[1].text and expected_answer(model(0.1), PROMPT).startswith(failed[1].text)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_timeout_ends_a_stalled_request_and_keeps_its_text(sim_env: str, mode: str):
    stalled = model(0.05, tokens=30, extra=",fault=stall,after=4")
    [run] = await race([stalled, model(0.1)], mode, timeout=0.8).run()

    first = run.results[0]
    assert first.state is State.FAILED and first.error == "timed out after 0.8 s"
    assert 0.7 < first.duration < 2.0  # type: ignore[operator]
    assert first.text and expected_answer(stalled, PROMPT).startswith(first.text)
    assert run.results[1].ok


async def test_both_runs_sync_then_async_and_speedup_is_their_ratio(sim_env: str):
    runs = await race([model(0.2), model(0.3), model(0.25)], "both").run()

    assert [r.mode for r in runs] == ["sync", "async"]
    assert speedup(runs) > 1.5  # type: ignore[operator]


async def test_cancel_keeps_what_arrived(sim_env: str):
    slow = model(0.05, tokens=200, tps=40)
    the_race = race([slow, slow + ",seed=2"], "async")
    task = asyncio.create_task(the_race.run())
    await asyncio.sleep(0.6)
    the_race.cancel()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    [run] = the_race.runs
    assert run.cancelled and run.over
    for r in run.results:
        assert r.state is State.CANCELLED and r.text
        assert expected_answer(r.source.removeprefix("sim:"), PROMPT).startswith(r.text)


def test_metrics_follow_their_definitions():
    r = Result("m", state=State.DONE, chunks=["a"] * 11, start=1.0, first_token=1.5, end=3.5)
    r.reported_output_tokens = 11
    assert r.ttft == 0.5
    assert r.tokens_per_s == pytest.approx(5.0)
    assert r.inter_token_latency == pytest.approx(0.2)
    estimated = Result("m", state=State.DONE, chunks=["abcd"] * 8, start=0, first_token=1, end=2)
    assert estimated.output_tokens == 8 and estimated.tokens_estimated
    assert Result("m", chunks=["a"] * 10).output_tokens == 10
    assert Result("m", chunks=["abcdefghijklmnop"] * 2).output_tokens == 8


def finished(*durations: float, mode: str = "async", limit: int | None = None) -> Run[Result]:
    results = [Result("m", state=State.DONE, start=0.0, end=d) for d in durations]
    run = Run[Result](mode, results, concurrent=mode != "sync", limit=limit, t0=0.0)
    run.t_end = 10.0
    return run


def test_the_ideal_time_of_each_mode():
    assert finished(1, 2, 3, mode="sync").ideal_s == 6
    assert finished(1, 2, 3).ideal_s == 3
    # Two slots: 1 and 2 start together, 3 takes the slot freed at 1 and ends at 4.
    assert finished(1, 2, 3, mode="limit=2", limit=2).ideal_s == 4
    assert finished(1, 2, 3).overhead_s == 7


def test_speedup_is_sync_wall_over_async_wall():
    sync, other = finished(1, mode="sync"), finished(1)
    sync.t_end, other.t_end = 6.0, 2.0
    assert speedup([sync, other]) == 3.0
    assert speedup([sync]) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [("fast", "unknown mode"), ("limit=0", "at least 1"), ("limit=x", "needs a number")],
)
def test_bad_modes(text: str, message: str):
    with pytest.raises(ModeError, match=message):
        parse_mode(text)


async def test_results_say_what_is_being_prepared_before_the_clock_starts(sim_env: str):
    from providers.adapters.sim_adapter import SimAdapter

    gate = asyncio.Event()
    loop = asyncio.get_running_loop()

    class SlowToPrepare(SimAdapter):
        preparing_note = "loading the model…"

        def prepare_async(self, loop_: asyncio.AbstractEventLoop, timeout: float | None = None):
            asyncio.run_coroutine_threadsafe(gate.wait(), loop).result(timeout=5)
            super().prepare_async(loop_, timeout)

    adapter = SlowToPrepare(make_adapter(f"sim:{model(0.05)}").spec)
    the_race = Race([adapter], Request(PROMPT), parse_mode("async"))
    task = asyncio.create_task(the_race.run())
    await asyncio.sleep(0.1)
    [run] = the_race.runs
    assert run.results[0].status == "loading the model…" and run.t0 is None
    gate.set()
    await task
    assert run.results[0].status is None and run.results[0].ok
    assert run.t0 is not None and run.results[0].start >= run.t0


@pytest.mark.parametrize("mode", ["async", "limit=1", "threads", "sync"])
async def test_cancel_from_another_thread_stops_stalled_streams(sim_env: str, mode: str):
    import threading
    import time

    stalled = model(0.05, tokens=40, extra=",fault=stall,after=3")
    the_race = race([stalled, stalled + ",seed=2"], mode)
    threading.Timer(0.8, the_race.cancel).start()
    began = time.perf_counter()
    [run] = await asyncio.wait_for(the_race.run(), timeout=10)

    assert time.perf_counter() - began < 5  # the stall lasts an hour
    assert run.cancelled and all(r.state is State.CANCELLED for r in run.results)
    assert run.results[0].text == expected_answer(stalled, PROMPT, max_tokens=3)
