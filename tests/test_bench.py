"""`modelrace bench` as a user runs it: real processes against the simulator, real sockets."""

from __future__ import annotations

import json
import os
import pty
import statistics
import subprocess
import sys

import pytest
from cli_helpers import ROOT, interrupted, modelrace

from providers import Request, make_adapter
from providers.race import Race, parse_mode

PROMPT = "Explain asyncio in one sentence."
QUICK = "sim:fast,ttft=0.05,tokens=6,tps=300,jitter=0"


def bench_json(*args: str, sim: str) -> tuple[int, dict, str]:
    out = modelrace("bench", PROMPT, *args, "--json", sim=sim)
    return out.returncode, json.loads(out.stdout), out.stderr


def test_ttft_percentiles_land_on_the_configured_jitter(sim_env: str):
    # TTFT is drawn uniformly from ttft × (1 ± jitter): here 0.10 s to 0.30 s, median 0.20,
    # 90th percentile 0.28. A server that replayed one draw would give no spread at all.
    models = [f"sim:fast,ttft=0.2,jitter=0.5,tokens=3,tps=1000,seed={i}" for i in (1, 2)]
    code, doc, err = bench_json(
        "-m", models[0], "-m", models[1], "--repeat", "20", "--mode", "async", sim=sim_env
    )

    assert code == 0, err
    ttfts = [s["ttft_s"] for s in doc["samples"]]
    assert len(ttfts) == 40
    cuts = statistics.quantiles(ttfts, n=100, method="inclusive")
    # Client and loopback add a few milliseconds on top of what the server scheduled.
    assert 0.17 <= cuts[49] <= 0.25, cuts[49]
    # 40 draws put the sample's p90 within about ±0.02 s of the configured 0.28 (3σ).
    assert 0.23 <= cuts[89] <= 0.34, cuts[89]
    assert min(ttfts) >= 0.10 and cuts[89] - cuts[9] > 0.1, (min(ttfts), cuts[9], cuts[89])
    for row in doc["summary"]:
        assert 0.15 <= row["ttft_s"]["p50"] <= 0.27, row
        assert row["ttft_s"]["p50"] <= row["ttft_s"]["p90"] <= row["ttft_s"]["p99"] <= 0.36


def test_the_json_carries_every_sample_and_the_summary_recomputes(sim_env: str):
    other = "sim:fast,ttft=0.1,tokens=8,tps=300,jitter=0.3"
    code, doc, err = bench_json(
        "-m", QUICK, "-m", other, "--repeat", "3", "--mode", "both", sim=sim_env
    )

    assert code == 0, err
    assert doc["quantile_method"] == "inclusive" and doc["repeat"] == 3
    # 3 races × 2 sides × 2 models, each request once, warm-up excluded.
    assert len(doc["samples"]) == 12
    seen = sorted((s["index"], s["mode"], s["model"]) for s in doc["samples"])
    assert seen == sorted(
        (i, side, m) for i in range(3) for side in ("sync", "async") for m in (QUICK, other)
    )
    for row in doc["summary"]:
        mine = [
            s for s in doc["samples"] if s["model"] == row["model"] and s["mode"] == row["mode"]
        ]
        assert row["n"] == len(mine) == 3 and row["failures"] == 0
        e2e = [s["e2e_s"] for s in mine]
        expected = statistics.quantiles(e2e, n=100, method="inclusive")[98]
        assert row["e2e_s"]["p99"] == pytest.approx(expected, abs=1e-5)
        assert all(s["output_tokens"] in (6, 8) for s in mine)
    speedup = doc["speedup"]
    assert len(speedup["samples"]) == 3
    assert speedup["ci95"][0] <= speedup["median"] <= speedup["ci95"][1]
    assert speedup["median"] == pytest.approx(statistics.median(speedup["samples"]), abs=1e-3)


def test_a_slots_limited_server_stops_growing_at_k_and_the_advice_names_it(sim_env: str):
    # 0.05 s to the first token, then 10 tokens at 200/s: about 0.1 s per answer.
    model = "sim:fast,slots=4,ttft=0.05,tokens=10,tps=200,jitter=0"
    code, doc, err = bench_json(
        "-m", model, "--concurrency", "1,2,4,8", "--duration", "1.5", sim=sim_env
    )

    assert code == 0, err
    rate = {c["concurrency"]: c["output_tokens_per_s"] for c in doc["cells"]}
    assert sorted(rate) == [1, 2, 4, 8]
    assert rate[4] > 1.5 * rate[2] > 2.25 * rate[1], rate
    assert rate[8] < 1.2 * rate[4], rate
    assert doc["advice"][model].startswith(f"{model}: limit=4: ")
    # Queued requests wait for a slot: at 8, TTFT includes a whole answer's wait.
    p99 = {c["concurrency"]: c["ttft_s"]["p99"] for c in doc["cells"]}
    assert p99[8] > p99[4] + 0.05, p99
    # Every sample is there: the cell's count matches its samples.
    for cell in doc["cells"]:
        assert cell["requests"] == len(cell["samples"]) > 0


@pytest.mark.parametrize(
    "flags",
    [
        ["--repeat", "0"],
        ["--repeat", "x"],
        ["--warmup", "-1"],
        ["--concurrency", "0,a"],
        ["--concurrency", "1,a"],
        ["--concurrency", "0"],
        ["--concurrency", "1,2", "--duration", "-1"],
        ["--concurrency", "1,2", "--duration", "nan"],
        ["--concurrency", "1", "--requests", "0"],
        ["--concurrency", "1", "--requests", "3", "--duration", "1"],
        ["--concurrency", "1", "--mode", "sync"],
        ["--concurrency", "1", "--repeat", "3"],
        ["--duration", "2"],
        ["--mode", "sideways"],
    ],
)
def test_bad_input_is_one_line_and_exit_2(sim_env: str, flags: list[str]):
    out = modelrace("bench", PROMPT, "-m", QUICK, *flags, sim=sim_env)

    assert out.returncode == 2, (out.returncode, out.stderr)
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("modelrace: "), out.stderr


def test_a_model_that_fails_every_request_says_so_and_the_others_are_reported(sim_env: str):
    out = modelrace(
        "bench", PROMPT, "-m", QUICK, "-m", "sim:error", "--repeat", "2", "--mode", "async",
        "--plot", sim=sim_env,
    )  # fmt: skip

    assert out.returncode == 1, out.stderr
    table = [line.strip() for line in out.stdout.splitlines() if "every request" not in line]
    rows = {line.split()[0]: line for line in table if line.startswith("sim:")}
    assert rows["sim:error"].split()[1:3] == ["2", "all"], rows
    assert rows[QUICK].split()[1:3] == ["2", "0"] and "ms" in rows[QUICK], rows
    assert "sim:error (async): every request failed: HTTP 500" in out.stdout
    # The chart: a box for the model that answered, none for the one that never did.
    chart = out.stdout.split("TTFT (s) per model", 1)[1]
    assert QUICK in chart and "sim:error" not in chart and "\x1b" not in out.stdout


def test_a_sweep_reports_a_failing_model_beside_the_advice_for_the_others(sim_env: str):
    out = modelrace(
        "bench", PROMPT, "-m", QUICK, "-m", "sim:error", "--concurrency", "1,2",
        "--requests", "4", "--plot", sim=sim_env,
    )  # fmt: skip

    assert out.returncode == 1, out.stderr
    assert "every request failed: HTTP 500" in out.stdout
    assert f"{QUICK}: limit=" in out.stdout and "of peak output tokens/s" in out.stdout
    assert "sim:error: no answer arrived at any level" in out.stdout
    for title in ("output tokens/s against concurrency", "p99 TTFT (s) against concurrency"):
        assert title in out.stdout
    assert "\x1b" not in out.stdout


def test_ctrl_c_reports_what_was_measured_and_exits_130(sim_env: str):
    model = "sim:fast,ttft=0.2,tokens=5,tps=100,jitter=0"
    code, stdout, stderr = interrupted(
        "bench", PROMPT, "-m", model, "--repeat", "100", "--mode", "async", "--json",
        sim=sim_env, after=3.0,
    )  # fmt: skip

    assert code == 130, stderr
    doc = json.loads(stdout)
    assert doc["interrupted"] is True
    # About 0.25 s a race: some were measured, far from all 100, and none is a cancelled one.
    assert 2 <= len(doc["samples"]) < 100
    assert all(s["ok"] for s in doc["samples"])
    assert "interrupted" in stderr


def test_ctrl_c_in_a_sweep_keeps_the_levels_measured(sim_env: str):
    code, stdout, stderr = interrupted(
        "bench", PROMPT, "-m", QUICK, "--concurrency", "1,2,4", "--duration", "2",
        sim=sim_env, after=3.5,
    )  # fmt: skip

    assert code == 130, stderr
    levels = [line.split()[0] for line in stdout.splitlines() if line.strip()[:1].isdigit()]
    assert levels[:1] == ["1"] and "4" not in levels, stdout


async def test_a_slots_limited_sim_queues_the_rest_and_their_ttft_counts_the_wait(sim_env: str):
    # Four requests at once to a server with two slots: two answer at once, two wait for a
    # slot and start only when an answer ends (about 0.1 + 5/100 s later).
    spec = "sim:fast,slots=2,ttft=0.1,tokens=5,tps=100,jitter=0"
    race = Race([make_adapter(spec) for _ in range(4)], Request(PROMPT), parse_mode("async"))
    [run] = await race.run()

    assert all(r.ok for r in run.results)
    ttfts = sorted(r.ttft for r in run.results)  # type: ignore[type-var]
    first_end = min(r.duration for r in run.results)  # type: ignore[type-var]
    assert ttfts[1] < 0.2 and ttfts[2] >= first_end, (ttfts, first_end)


def test_slots_below_one_is_a_bad_model_name(sim_env: str):
    out = modelrace("bench", PROMPT, "-m", "sim:fast,slots=0", "--repeat", "1", sim=sim_env)

    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip() == (
        "modelrace: 'sim:fast,slots=0': bad sim model 'fast,slots=0': "
        "slots must be between 1 and 100000"
    )


def test_a_progress_bar_runs_on_stderr_only_when_it_is_a_terminal(sim_env: str):
    model = "sim:fast,ttft=0.3,tokens=3,tps=300,jitter=0"
    args = ("bench", PROMPT, "-m", model, "--repeat", "3", "--mode", "async")
    piped = modelrace(*args, sim=sim_env)
    assert piped.returncode == 0 and piped.stderr == ""

    leader, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui", *args],
        stdout=subprocess.PIPE,
        stderr=terminal,
        text=True,
        env={**os.environ, "MODELRACE_SIM_URL": sim_env},
        cwd=ROOT,
    )
    os.close(terminal)
    seen = b""
    try:
        while chunk := _read(leader):
            seen += chunk
    finally:
        os.close(leader)
    stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    shown = seen.decode(errors="replace")
    assert "race 2/3" in shown or "race 3/3" in shown, shown
    assert "sim:fast" in stdout and "race 1/3" not in stdout


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except OSError:  # EIO: the child closed the terminal
        return b""


def test_a_stored_bench_round_trips_through_show_json(sim_env: str):
    code, doc, err = bench_json("-m", QUICK, "--repeat", "2", "--mode", "both", sim=sim_env)
    assert code == 0, err

    listed = modelrace("history", "--bench", "--json", sim=sim_env)
    rows = json.loads(listed.stdout)
    assert [(r["id"], r["bench"], r["samples"]) for r in rows] == [("b1", "repeat", 4)]
    shown = modelrace("show", "b1", "--json", sim=sim_env)
    assert shown.returncode == 0, shown.stderr
    stored = json.loads(shown.stdout)
    assert stored.pop("id") == "b1"
    assert stored == doc
    report = modelrace("show", "b1", sim=sim_env).stdout
    assert "speedup (sync wall / async wall): median" in report and QUICK in report
    exported = modelrace("export", "b1", "--format", "json", sim=sim_env)
    assert json.loads(exported.stdout) == {"id": "b1", **doc}
    svg = modelrace("export", "b1", "--format", "svg", sim=sim_env)
    assert svg.returncode == 2 and svg.stderr.count("\n") == 1, svg.stderr


def test_an_interrupted_sweep_is_stored_and_no_save_keeps_nothing(sim_env: str):
    code, _, _ = interrupted(
        "bench", PROMPT, "-m", QUICK, "--concurrency", "1,2,4", "--duration", "2",
        sim=sim_env, after=3.5,
    )  # fmt: skip
    assert code == 130
    again = modelrace("bench", PROMPT, "-m", QUICK, "--repeat", "1", "--no-save", sim=sim_env)
    assert again.returncode == 0, again.stderr

    table = modelrace("history", "--bench", sim=sim_env).stdout
    assert "sweep to 4 (interrupted)" in table and table.count("\n") == 2, table
    shown = modelrace("show", "b1", sim=sim_env).stdout
    assert "interrupted" in shown.splitlines()[0]
    assert "concurrency sweep: closed loop" in shown
    doc = json.loads(modelrace("show", "b1", "--json", sim=sim_env).stdout)
    assert doc["interrupted"] is True and doc["cells"][0]["samples"]
    missing = modelrace("show", "b2", sim=sim_env)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1, missing.stderr


async def test_the_dashboard_bench_screen_draws_the_sweep_live_and_keeps_it(
    sim_env: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    import time

    from screen import on_screen

    from providers.store.benches import bench_history
    from tui.app import ModelRaceApp
    from tui.history import PromptHistory

    def until(check, timeout: float = 20.0):  # type: ignore[no-untyped-def]
        async def wait() -> None:
            deadline = time.monotonic() + timeout
            while not check():
                assert time.monotonic() < deadline, "condition not met in time"
                await pilot.pause(0.1)

        return wait()

    app = ModelRaceApp([QUICK], history=PromptHistory(tmp_path / "h"), mode="async")
    async with app.run_test(size=(160, 50)) as pilot:
        app.prompt_box.load_text(PROMPT)
        await pilot.press("ctrl+b")
        await until(lambda: on_screen(app, "Bench: concurrency sweep", "running"))
        # The first level's figures arrive while the sweep still runs.
        await until(lambda: on_screen(app, "output tokens/s against concurrency", "limit=1:"))
        assert on_screen(app, "running")
        await pilot.press("escape")
        await until(lambda: on_screen(app, "stopped: what was measured is shown", "saved as b1"))
        await pilot.press("escape")
        await until(lambda: not on_screen(app, "Bench: concurrency sweep"))

    [stored] = bench_history()
    assert stored.interrupted and stored.kind == "concurrency" and stored.n_samples > 0
