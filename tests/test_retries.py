"""`--retries`: a 429 with Retry-After tried again, every attempt in the JSON, the store and
the timeline. Real SDKs against the simulator on loopback; each test names its own model
(`seed=`), since the simulator counts `times=N` per model and prompt."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
from cli_helpers import interrupted, modelrace
from screen import on_screen, screen_lines

from tui.app import ModelRaceApp
from tui.history import PromptHistory

PROMPT = "Why retry?"


def flaky(seed: int, provider: str = "sim", times: int = 2, status: int = 429) -> str:
    return (
        f"{provider}:fast,tokens=8,tps=400,ttft=0.05,fault=http_error,status={status},"
        f"retry_after=0.3,times={times},seed={seed}"
    )


def run_json(*args: str, sim: str) -> tuple[int, dict, str]:
    out = modelrace("run", PROMPT, *args, "--json", sim=sim)
    return out.returncode, json.loads(out.stdout), out.stderr


@pytest.mark.parametrize(
    ("provider", "mode"),
    [("sim", "async"), ("openai", "sync"), ("anthropic", "async"), ("gemini", "sync")],
)
def test_a_429_twice_with_retry_after_then_an_answer_ends_done_after_3_attempts(
    sim_env: str, provider: str, mode: str
):
    seed = 100 + ["sim", "openai", "anthropic", "gemini"].index(provider)
    code, doc, err = run_json(
        "-m", flaky(seed, provider), "--mode", mode, "--retries", "3", sim=sim_env
    )

    assert code == 0, err
    [result] = doc["runs"][0]["results"]
    assert result["state"] == "done" and result["attempts"] == 3, result
    failed = result["failed_attempts"]
    assert [(a["http_status"], a["error_kind"]) for a in failed] == [(429, "rate_limited")] * 2
    # The server asked for 0.3 s: each retry waited at least that long (not stamina's 0.5 s
    # backoff either: the wait is well under a second).
    starts = [a["start_s"] for a in failed] + [result["start_s"] + result["retry_lost_s"]]
    ends = [a["end_s"] for a in failed]
    for end, next_start in zip(ends, starts[1:], strict=True):
        assert 0.28 <= next_start - end < 5, (ends, starts)
    # TTFT counts from the first attempt, so it includes the time lost to the other two.
    assert result["start_s"] == failed[0]["start_s"]
    ttft = result["first_token_s"] - result["start_s"]
    assert ttft > result["retry_lost_s"] >= 0.56


def test_retries_are_off_by_default(sim_env: str):
    code, doc, _ = run_json("-m", flaky(110), "--mode", "async", sim=sim_env)

    assert code == 1
    [result] = doc["runs"][0]["results"]
    assert (result["state"], result["attempts"], result["http_status"]) == ("failed", 1, 429)
    assert result["failed_attempts"] == [] and result["retry_lost_s"] == 0


def test_fewer_retries_than_failures_ends_failed_with_every_attempt_counted(sim_env: str):
    code, doc, _ = run_json(
        "-m", flaky(111, times=3, status=503), "--mode", "async", "--retries", "1", sim=sim_env
    )

    assert code == 1
    [result] = doc["runs"][0]["results"]
    assert (result["state"], result["attempts"], result["http_status"]) == ("failed", 2, 503)


def test_a_client_error_is_not_retried(sim_env: str):
    code, doc, _ = run_json(
        "-m", flaky(112, status=401), "--mode", "async", "--retries", "3", sim=sim_env
    )

    assert code == 1
    assert doc["runs"][0]["results"][0]["attempts"] == 1


def test_attempts_round_trip_through_the_store(sim_env: str):
    code, doc, err = run_json(
        "-m", flaky(113), "-m", "sim:fast,tokens=5", "--retries", "2", sim=sim_env
    )
    assert code == 0, err

    shown = modelrace("show", "1", "--json", sim=sim_env)
    stored = json.loads(shown.stdout)
    assert stored.pop("id") == 1
    assert stored == doc
    attempts = [r["attempts"] for run in stored["runs"] for r in run["results"]]
    assert attempts == [3, 1, 1, 1]  # sync side retried; the async side found it answering


def test_a_bench_with_retries_counts_attempts_per_sample(sim_env: str):
    out = modelrace(
        "bench", PROMPT, "-m", flaky(114, times=1), "--repeat", "2", "--warmup", "0",
        "--mode", "async", "--retries", "2", "--json", sim=sim_env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert [s["attempts"] for s in doc["samples"]] == [2, 1]
    assert all(s["ok"] for s in doc["samples"])


@pytest.mark.parametrize("value", ["-1", "x", "11", "1.5"])
@pytest.mark.parametrize("command", ["run", "bench"])
def test_bad_retries_is_one_line_and_exit_2(sim_env: str, command: str, value: str):
    out = modelrace(command, PROMPT, "-m", "sim:fast", "--retries", value, sim=sim_env)

    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "retries" in out.stderr, out.stderr
    assert out.stdout == ""


def test_sim_bounds_its_retry_knobs(sim_env: str):
    for knob in ("times=-1", "retry_after=4000", "retry_after=-1"):
        out = modelrace("run", PROMPT, "-m", f"sim:fast,{knob}", sim=sim_env)
        assert out.returncode == 2
        assert out.stderr.count("\n") == 1, out.stderr
        assert f"{knob.split('=')[0]} must be between" in out.stderr, out.stderr


async def _until(pilot, check: Callable[[], bool], timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)


async def test_the_timeline_draws_each_failed_attempt(sim_env: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = flaky(120)
    app = ModelRaceApp([model], history=PromptHistory(tmp_path / "h"), mode="async")
    async with app.run_test(notifications=True, size=(160, 40)) as pilot:
        await pilot.press("ctrl+s")
        app.screen.query_one("#retries").value = "3"
        await pilot.press("ctrl+s")
        await pilot.pause(0.2)
        assert on_screen(app, "retries 3")
        app.prompt_box.load_text(PROMPT)
        await pilot.press("enter")
        await _until(pilot, lambda: app.race is not None and not app.racing)
        await pilot.pause(0.5)

        bar = next(line for line in screen_lines(app) if "↻3" in line)
        cells = bar.split("fast,", 1)[1]
        # Two failed attempts (▒), their Retry-After waits (·), then the answer (█).
        assert cells.index("▒") < cells.index("·") < cells.rindex("▒") < cells.index("█"), bar
        assert "✗" not in bar
        assert on_screen(app, "▒ retried")


def test_the_text_report_says_how_many_attempts_and_the_time_lost(sim_env: str):
    out = modelrace(
        "run", PROMPT, "-m", flaky(115), "--mode", "async", "--retries", "2", "--no-save",
        sim=sim_env,
    )  # fmt: skip

    assert out.returncode == 0, out.stderr
    [line] = [line for line in out.stdout.splitlines() if line.startswith("  ↻ ")]
    assert ": 3 attempts, 0." in line and "s lost to retries (HTTP 429" in line, line


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_ctrl_c_while_waiting_to_retry_counts_only_the_attempts_sent(sim_env: str, mode: str):
    model = flaky(116 if mode == "async" else 117).replace("retry_after=0.3", "retry_after=30")
    code, stdout, _ = interrupted(
        "run", PROMPT, "-m", model, "--mode", mode, "--retries", "3", "--json",
        sim=sim_env, after=6,
    )  # fmt: skip

    assert code == 130
    [result] = json.loads(stdout)["runs"][0]["results"]
    assert (result["state"], result["attempts"], len(result["failed_attempts"])) == (
        "cancelled",
        1,
        1,
    )
    # The time waited counts as lost: the wait had begun when Ctrl-C came.
    assert result["retry_lost_s"] > result["failed_attempts"][0]["end_s"] - result["start_s"]
