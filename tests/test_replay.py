"""Replay: a race recorded by `run`, played back through the simulator by `replay:ID` specs,
and `modelrace replay ID` opening the dashboard ready to send. Real processes and sockets."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cli_helpers import modelrace

from providers.sim import expected_answer

PROMPT = "Explain asyncio in one sentence."
STEADY = "fast,ttft=0.15,tokens=20,tps=60,jitter=0"
SLOW = "slow,ttft=0.3,tokens=8,tps=30"
# A drop after 5 tokens, an HTTP 429, and a stall that the 1 s timeout ends.
FAILING = ("flaky,after=5,ttft=0.1,tps=50", "ratelimited,ttft=0.2", "stall,after=3")
MODELS = [f"sim:{m}" for m in (STEADY, SLOW, *FAILING)]


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "modelrace.db"
    monkeypatch.setenv("MODELRACE_DB", str(path))
    return path


def _args(specs: list[str]) -> list[str]:
    return [arg for spec in specs for arg in ("-m", spec)]


@pytest.fixture
def recorded(sim_env: str, db: Path) -> dict:
    """Race 1 in the store: two answers and three failures, sync then async."""
    ran = modelrace("run", PROMPT, *_args(MODELS), "--timeout", "1", "--json", sim=sim_env)
    assert ran.returncode == 1, ran.stderr  # the three failures, as intended
    return json.loads(ran.stdout)


def _close(replayed: float, original: float) -> bool:
    return abs(replayed - original) <= max(0.05 * original, 0.030)


def _side(doc: dict, mode: str) -> list[dict]:
    return next(run["results"] for run in doc["runs"] if run["mode"] == mode)


def _assert_same_race(original: list[dict], replayed: list[dict]) -> None:
    assert len(replayed) == len(original)
    for old, new in zip(original, replayed, strict=True):
        assert new["model"] == f"replay:1:{old['model']}"
        assert new["text"] == old["text"], old["model"]
        assert (new["error_kind"], new["http_status"]) == (old["error_kind"], old["http_status"])
        assert new["output_tokens"] == old["output_tokens"], old["model"]
        total_old, total_new = old["end_s"] - old["start_s"], new["end_s"] - new["start_s"]
        assert _close(total_new, total_old), (old["model"], total_old, total_new)
        if old["first_token_s"] is None:
            assert new["first_token_s"] is None, old["model"]
            continue
        ttft_old = old["first_token_s"] - old["start_s"]
        ttft_new = new["first_token_s"] - new["start_s"]
        assert _close(ttft_new, ttft_old), (old["model"], ttft_old, ttft_new)


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_replay_has_the_recorded_texts_pace_and_failures(recorded: dict, sim_env: str, mode: str):
    replay = modelrace("run", "any prompt", "-m", "replay:1", "--mode", mode, "--json", sim=sim_env)

    assert replay.returncode == 1, replay.stderr
    doc = json.loads(replay.stdout)
    assert [run["mode"] for run in doc["runs"]] == [mode]
    original = _side(recorded, mode)
    _assert_same_race(original, doc["runs"][0]["results"])
    # What was recorded was the simulator's real answer, not something made up after.
    assert original[0]["text"] == expected_answer(STEADY, PROMPT)
    kinds = [r["error_kind"] for r in original]
    assert kinds == [None, None, "dropped", "rate_limited", "timeout"]


def test_replay_of_one_model_and_both_sides(recorded: dict, sim_env: str):
    spec = f"replay:1:sim:{SLOW}"

    replay = modelrace("run", "x", "-m", spec, "--mode", "both", "--json", sim=sim_env)

    assert replay.returncode == 0, replay.stderr
    doc = json.loads(replay.stdout)
    for run in doc["runs"]:
        (result,) = run["results"]
        (old,) = [r for r in _side(recorded, run["mode"]) if r["model"] == f"sim:{SLOW}"]
        _assert_same_race([old], [result])


def test_a_stored_race_of_the_replay_replays_again(recorded: dict, sim_env: str):
    first = modelrace("run", "x", "-m", f"replay:1:sim:{STEADY}", "--mode", "async", sim=sim_env)
    again = modelrace("run", "x", "-m", "replay:2", "--mode", "async", "--json", sim=sim_env)

    assert first.returncode == 0 and again.returncode == 0, again.stderr
    (result,) = json.loads(again.stdout)["runs"][0]["results"]
    assert result["model"] == f"replay:2:replay:1:sim:{STEADY}"
    assert result["text"] == _side(recorded, "async")[0]["text"]


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("replay:7", "no stored race has id 7"),
        ("replay:1:sim:nope", "stored race 1 has no model 'sim:nope'"),
        ("replay:one", "replay needs a race id"),
        ("replay:0", "race id of 1 or more"),
    ],
)
def test_bad_replay_specs_are_one_line_and_exit_2(
    recorded: dict, sim_env: str, spec: str, needle: str
):
    out = modelrace("run", "x", "-m", f"sim:{STEADY}", "-m", spec, sim=sim_env)

    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1 and needle in out.stderr, out.stderr
    assert out.stdout == ""  # checked before anything started


def test_replay_command_with_an_unknown_id(db: Path, sim_env: str):
    out = modelrace("replay", "3", sim=sim_env)

    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "no stored race has id 3" in out.stderr


def test_simulator_refuses_a_bad_recording_and_an_unknown_replay(sim_url: str):
    bad = urllib.request.Request(
        f"{sim_url}/v1/replays", data=b'{"chunks": [[-1, "x"]]}', method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(bad, timeout=5)
    assert refused.value.code == 400
    assert "offset must be between 0" in json.loads(refused.value.read())["error"]["message"]

    chat = urllib.request.Request(
        f"{sim_url}/v1/chat/completions",
        data=json.dumps(
            {"model": "replay-0", "messages": [{"role": "user", "content": "x"}]}
        ).encode(),
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(chat, timeout=5)
    assert missing.value.code == 404


async def test_replay_opens_the_dashboard_with_the_prompt_ready(recorded: dict, sim_env: str):
    from screen import screen_text

    from providers.config import Config
    from tui.commands.store import replay_app

    app = replay_app(1, Config())
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        assert app.prompt_box.text == PROMPT
        shown = screen_text(app)
        assert "replay:1:sim:slow" in shown and "replay:1:sim:flaky" in shown

        await pilot.press("enter")
        for _ in range(200):
            await pilot.pause(0.05)
            if app.race is not None and all(run.over for run in app.race.runs):
                break
        texts = [r.text for run in app.race.runs for r in run.results]  # type: ignore[union-attr]
    expected = [r["text"] for run in recorded["runs"] for r in run["results"]]
    assert texts == expected


async def test_the_picker_takes_replay_id_for_every_model_of_the_race(recorded: dict, sim_env: str):
    from screen import screen_text

    from providers.config import Config
    from tui.app import ModelRaceApp

    app = ModelRaceApp(["sim:fast"], Config(), mode="async")
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("ctrl+l")
        await pilot.pause()
        picker = app.screen
        assert await picker.add_spec("replay:1")  # type: ignore[attr-defined]
        await pilot.pause()
        shown = screen_text(app)
        models = [r["model"] for r in recorded["runs"][0]["results"]]
        for model in models:
            assert f"replay:1:{model}" in shown
        assert not await picker.add_spec("replay:99")  # type: ignore[attr-defined]
        await pilot.pause()
        assert "Cannot use replay:99" in screen_text(app)


def _first_chunk_after(sim_url: str, model: str, started: str | None) -> float:
    """Seconds from sending a chat request for `model` until its first text chunk arrives."""
    import http.client
    import time
    from urllib.parse import urlsplit

    host = urlsplit(sim_url)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
    body = {"model": model, "stream": True, "messages": [{"role": "user", "content": "x"}]}
    headers = {"Content-Type": "application/json"}
    if started is not None:
        headers["X-Modelrace-Started"] = started
    sent = time.monotonic()
    conn.request("POST", "/v1/chat/completions", json.dumps(body), headers)
    response = conn.getresponse()
    while b'"content":"hello"' not in response.readline():
        pass
    conn.close()
    return time.monotonic() - sent


def test_replay_counts_from_the_clients_start_only_on_the_same_clock(sim_url: str):
    import time

    recording = json.dumps({"chunks": [[0.4, "hello"]], "end_s": 0.4}).encode()
    register = urllib.request.Request(f"{sim_url}/v1/replays", data=recording, method="POST")
    with urllib.request.urlopen(register, timeout=5) as answer:
        model = json.loads(answer.read())["model"]

    plain = _first_chunk_after(sim_url, model, None)
    other_clock = _first_chunk_after(sim_url, model, "12.5")
    # The client started 0.3 s before it sent: only 0.1 s of the recorded 0.4 s are left.
    same_clock = _first_chunk_after(sim_url, model, f"{time.monotonic() - 0.3:.6f}")

    assert plain >= 0.4 and other_clock >= 0.4
    assert same_clock < 0.3
