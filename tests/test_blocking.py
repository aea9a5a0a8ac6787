"""The `blocking` mode: sync clients called straight from async tasks, the seed's warning shown.

Against the simulator over loopback: the requests of a blocking run do not overlap although
their tasks were created together, its loop is measured as held for most of the run, the
dashboard's own loop stays free meanwhile, and `all` shows every shape against sync.
"""

from __future__ import annotations

import json
import re

from cli_helpers import modelrace
from screen import on_screen, screen_lines, until

from providers import Request, make_adapter
from providers.pipeline import PipelinePass, PipelineRunner, parse_pipeline
from providers.race import Race, parse_mode
from providers.record import Run
from tui.app import ModelRaceApp
from tui.history import PromptHistory

PROMPT = "Explain asyncio in one sentence."


def model(ttft: float, tokens: int = 10, tps: int = 50) -> str:
    return f"sim:fast,ttft={ttft},tokens={tokens},tps={tps},jitter=0"


MODELS = [model(0.3), model(0.4), model(0.2)]


async def race(mode: str, models: list[str] = MODELS) -> list[Run]:
    adapters = [make_adapter(m) for m in models]
    return await Race(adapters, Request(PROMPT), parse_mode(mode)).run()


def spans(run: Run) -> list[tuple[float, float]]:
    out = []
    for r in run.results:
        assert r.start is not None and r.end is not None, (r.source, r.state, r.error)
        out.append((r.start, r.end))
    return out


def in_flight(intervals: list[tuple[float, float]]) -> int:
    marks = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    depth = peak = 0
    for _, step in marks:
        depth += step
        peak = max(peak, depth)
    return peak


async def test_blocking_requests_run_one_after_another_while_the_loop_is_held(sim_env: str):
    [run] = await race("blocking")

    assert run.mode == "blocking" and all(r.ok for r in run.results)
    intervals = spans(run)
    # Each request starts only after the previous one has ended...
    assert all(intervals[i][1] <= intervals[i + 1][0] for i in range(len(intervals) - 1))
    lag = run.loop_lag
    assert lag is not None and run.wall_s is not None
    # ...although every task existed before the first one blocked: the others waited on it.
    assert lag.waiting_at_peak == len(MODELS) - 1
    # The loop was held for most of the run, and its worst stall outlasted any one request.
    assert lag.stalled_s >= 0.6 * run.wall_s
    assert lag.max_s >= max(end - start for start, end in intervals)
    assert lag.p99_s <= lag.max_s


async def test_async_with_the_same_models_keeps_the_loop_free(sim_env: str):
    [run] = await race("async")

    assert all(r.ok for r in run.results)
    assert in_flight(spans(run)) == len(MODELS)
    lag = run.loop_lag
    assert lag is not None and run.wall_s is not None and lag.samples > 0
    assert lag.stalled_s < 0.25 * run.wall_s
    assert lag.max_s < min(end - start for start, end in spans(run))


async def test_a_blocking_pipeline_runs_independent_steps_one_after_another(sim_env: str):
    text = f"""
        [steps.db]
        wait = 0.3
        output = "db"
        [steps.web]
        wait = 0.3
        output = "web"
        [steps.answer]
        model = "{model(0.1)}"
        after = ["db", "web"]
        prompt = "{{steps.db}} {{steps.web}}"
        """
    # `all` for a pipeline: sync, blocking, async (no thread pool decides a pipeline's shape).
    runs: list[PipelinePass] = await PipelineRunner(
        parse_pipeline(text, "t.toml"), "Q?", "all"
    ).run()
    assert [r.mode for r in runs] == ["sync", "blocking", "async"]
    _, blocking, concurrent = runs
    assert all(r.ok for run in runs for r in run.results)
    db, web = blocking.result("db"), blocking.result("web")
    assert db.end is not None and web.start is not None and db.end <= web.start
    assert blocking.loop_lag is not None and blocking.wall_s is not None
    assert blocking.loop_lag.stalled_s >= 0.5 * blocking.wall_s
    # The same two retrievals overlap when the steps await instead of blocking.
    db, web = concurrent.result("db"), concurrent.result("web")
    assert db.start is not None and web.end is not None and web.start < db.end  # type: ignore[operator]


def test_run_json_in_blocking_mode_carries_the_loop_lag(sim_env: str):
    ran = modelrace("run", PROMPT, "-m", MODELS[0], "-m", MODELS[1], "--mode", "blocking",
                    "--json", sim=sim_env)  # fmt: skip

    assert ran.returncode == 0, ran.stderr
    [run] = json.loads(ran.stdout)["runs"]
    assert run["mode"] == "blocking"
    lag = run["loop_lag"]
    assert set(lag) >= {"max_s", "p99_s", "stalled_s", "waiting_at_peak", "stalls"}
    assert lag["stalled_s"] >= 0.6 * run["wall_s"]
    assert lag["p99_s"] <= lag["max_s"] <= run["wall_s"]
    assert lag["waiting_at_peak"] == 1
    assert all(0 <= a <= b <= run["wall_s"] + 0.01 for a, b in lag["stalls"])
    # The run store keeps the figures: `show --json` is the same document, plus its id.
    shown = modelrace("show", "1", "--json", sim=sim_env)
    assert json.loads(shown.stdout) == {"id": 1, **json.loads(ran.stdout)}


def test_mode_all_prints_four_runs_with_speedups_against_sync(sim_env: str):
    models = ["-m", MODELS[0], "-m", MODELS[1], "-m", MODELS[2]]
    ran = modelrace("run", PROMPT, *models, "--mode", "all", "--no-save", sim=sim_env)

    assert ran.returncode == 0, ran.stderr
    out = ran.stdout
    heads = [out.index(f"[{mode}] ") for mode in ("sync", "blocking", "threads", "async")]
    assert heads == sorted(heads)
    assert len(re.findall(r"^  wall \d+\.\d\ds", out, re.MULTILINE)) == 4
    assert re.search(r"^Sync Time: \d+\.\d\ds$", out, re.MULTILINE)
    ratios = {}
    for mode in ("Blocking", "Threads", "Async"):
        found = re.search(rf"^{mode} Time: \d+\.\d\ds \((\d+\.\d\d)x vs sync", out, re.MULTILINE)
        assert found, (mode, out[-600:])
        ratios[mode] = float(found.group(1))
    assert re.search(r"^Blocking Time: .*the loop was stalled [\d.]+ s of [\d.]+ s\)$", out,
                     re.MULTILINE)  # fmt: skip
    # Three requests one after another on a held loop buy nothing over sync; at once they do.
    assert ratios["Blocking"] < ratios["Async"]
    assert ratios["Blocking"] < ratios["Threads"]


def test_mode_all_json_has_each_speedup_against_sync(sim_env: str):
    models = ["-m", MODELS[0], "-m", MODELS[2]]
    ran = modelrace("run", PROMPT, *models, "--mode", "all", "--json", "--no-save", sim=sim_env)

    doc = json.loads(ran.stdout)
    runs = {run["mode"]: run for run in doc["runs"]}
    assert list(runs) == ["sync", "blocking", "threads", "async"]
    sync_wall = runs["sync"]["wall_s"]
    for mode, run in runs.items():
        # From the unrounded walls, so within the rounding of the printed ones.
        assert abs(run["speedup_vs_sync"] - sync_wall / run["wall_s"]) < 1e-3, mode
    assert doc["speedup"] == runs["async"]["speedup_vs_sync"]


async def test_the_dashboard_answers_keys_during_a_blocking_run(sim_env: str):
    slow = [model(0.5, tokens=40, tps=30), model(0.5, tokens=40, tps=30)]
    app = ModelRaceApp(slow, history=PromptHistory(None), mode="blocking")
    async with app.run_test(size=(120, 40)) as pilot:
        app.prompt_box.load_text(PROMPT)
        await pilot.press("enter")
        await until(pilot, lambda: app.race is not None and app.race.runs[0].t0 is not None)
        await until(pilot, lambda: on_screen(app, "mode blocking"))
        run = app.race.runs[0]  # type: ignore[union-attr]
        # The blocking side holds its own loop: a key press is still handled mid-run.
        await pilot.press("ctrl+t")
        await until(pilot, lambda: on_screen(app, "mode all"), timeout=1.0)
        assert not run.over
        await until(pilot, lambda: run.over, timeout=30)
        await until(pilot, lambda: on_screen(app, "blocking: the loop was stalled"))
        assert on_screen(app, "loop stalled", "task waits for the loop")


async def test_the_dashboard_draws_the_four_shapes_of_mode_all(sim_env: str):
    quick = [model(0.1, tokens=8, tps=80), model(0.2, tokens=8, tps=80)]
    app = ModelRaceApp(quick, history=PromptHistory(None), mode="all")
    async with app.run_test(size=(120, 45)) as pilot:
        app.prompt_box.load_text(PROMPT)
        await pilot.press("enter")
        await until(pilot, lambda: app.race is not None and len(app.race.runs) == 4)
        await until(pilot, lambda: all(run.over for run in app.race.runs), timeout=30)  # type: ignore[union-attr]
        await until(pilot, lambda: on_screen(app, "#4 async wall"))
        lines = screen_lines(app)
        heads = [next(i for i, line in enumerate(lines) if line.startswith(f" #{n} {mode}"))
                 for n, mode in enumerate(("sync", "blocking", "threads", "async"), 1)]  # fmt: skip
        assert heads == sorted(heads)
        assert "the loop was stalled" in lines[heads[1]]
        assert any("stalled" in line and "█" in line for line in lines[heads[1] : heads[2]])


async def test_the_compact_timeline_still_draws_after_mode_all(sim_env: str):
    quick = [model(0.1, tokens=8, tps=80), model(0.2, tokens=8, tps=80)]
    app = ModelRaceApp(quick, history=PromptHistory(None), mode="all")
    async with app.run_test(size=(80, 24)) as pilot:
        app.prompt_box.load_text(PROMPT)
        await pilot.press("enter")
        await until(pilot, lambda: app.race is not None and len(app.race.runs) == 4)
        await until(pilot, lambda: all(run.over for run in app.race.runs), timeout=30)  # type: ignore[union-attr]
        # The newest pair, one row per model, both runs' walls in its header.
        await until(pilot, lambda: on_screen(app, "▀ #3 threads", "▄ #4 async", "speedup"))
        rows = [line for line in screen_lines(app) if "sim:fast" in line and "/" in line]
        assert len(rows) >= 2, screen_lines(app)
