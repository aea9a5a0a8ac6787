"""Pipelines against the simulator: overlap, exact dependencies, critical path, skips, errors."""

from __future__ import annotations

import asyncio
import http.server
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import interrupted, modelrace

from providers.pipeline import (
    PipelineError,
    PipelinePass,
    PipelineRunner,
    load_pipeline,
    parse_pipeline,
    parse_template,
    topological_order,
    upstream,
)
from providers.record import State
from providers.sim import expected_answer

ROOT = Path(__file__).resolve().parent.parent


def sim(ttft: float, tokens: int = 8, tps: int = 100) -> str:
    return f"sim:fast,ttft={ttft},tokens={tokens},tps={tps},jitter=0"


async def run_text(text: str, mode: str = "async", input_text: str = "Q?") -> list[PipelinePass]:
    return await PipelineRunner(parse_pipeline(text, "t.toml"), input_text, mode).run()


def span(run: PipelinePass, step: str) -> tuple[float, float]:
    r = run.result(step)
    assert r.start is not None and r.end is not None, (step, r.state, r.error)
    return r.start, r.end


# --- scheduling ---------------------------------------------------------------------------


async def test_independent_steps_overlap(sim_env: str):
    [run] = await run_text(
        f"""
        [steps.db]
        wait = 0.4
        output = "db"
        [steps.web]
        wait = 0.4
        output = "web"
        [steps.m1]
        model = "{sim(0.3)}"
        [steps.m2]
        model = "{sim(0.3)}"
        """
    )

    spans = [span(run, s) for s in ("db", "web", "m1", "m2")]
    assert max(s for s, _ in spans) < min(e for _, e in spans)  # all started before any ended
    assert all(r.ok for r in run.results)
    assert run.wall_s < sum(e - s for s, e in spans)  # type: ignore[operator]


async def test_dependent_steps_wait_for_exactly_their_inputs(sim_env: str):
    [run] = await run_text(
        f"""
        [steps.short]
        wait = 0.2
        output = "short"
        [steps.long]
        wait = 0.9
        output = "long"
        [steps.mid]
        wait = 0.3
        output = "mid"
        [steps.after_short]
        model = "{sim(0.1)}"
        after = ["short"]
        [steps.after_two]
        wait = 0.1
        after = ["short", "mid"]
        [steps.after_all]
        wait = 0.1
        after = ["after_short", "long"]
        """
    )

    assert all(r.ok for r in run.results)
    short_end, long_end, mid_end = (span(run, s)[1] for s in ("short", "long", "mid"))
    s1, e1 = span(run, "after_short")
    assert short_end <= s1 and e1 < long_end  # after its input, not after the slow branch
    s2, _ = span(run, "after_two")
    assert max(short_end, mid_end) <= s2 < long_end
    s3, _ = span(run, "after_all")
    assert max(long_end, e1) <= s3


async def test_concurrent_wall_is_near_the_critical_path(sim_env: str):
    [run] = await run_text(
        f"""
        [steps.a]
        wait = 0.3
        output = "a"
        [steps.b]
        wait = 0.5
        output = "b"
        [steps.side]
        model = "{sim(0.2)}"
        after = ["a"]
        [steps.final]
        model = "{sim(0.3)}"
        after = ["b", "side"]
        """
    )

    # a+side ≈ 0.3+0.28 finishes after b (0.5), so final waits for side: a → side → final.
    assert run.critical_path == ["a", "side", "final"]
    assert [r.step for r in run.steps if r.critical] == ["a", "side", "final"]
    path_length = sum(run.result(s).duration for s in run.critical_path)  # type: ignore[misc]
    total = sum(r.duration for r in run.results)  # type: ignore[misc]
    assert path_length <= run.wall_s < total  # type: ignore[operator]


async def test_sync_runs_one_step_at_a_time_in_file_order(sim_env: str):
    text = f"""
        [steps.late]
        model = "{sim(0.1)}"
        after = ["first"]
        [steps.first]
        wait = 0.2
        output = "first"
        [steps.other]
        wait = 0.2
        output = "other"
        """
    [run] = await run_text(text, "sync")

    order = [s.name for s in topological_order(parse_pipeline(text))]
    assert order == ["first", "late", "other"]
    spans = [span(run, s) for s in order]
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(len(spans) - 1))
    assert run.wall_s >= run.ideal_s >= 0.4  # type: ignore[operator]


async def test_both_runs_sync_then_async_and_async_is_faster(sim_env: str):
    runs = await run_text(
        """
        [steps.a]
        wait = 0.3
        [steps.b]
        wait = 0.3
        [steps.c]
        wait = 0.3
        after = ["a", "b"]
        """,
        "both",
    )

    assert [r.mode for r in runs] == ["sync", "async"]
    sync, conc = runs
    assert 0.6 <= conc.wall_s < sync.wall_s  # type: ignore[operator]
    assert sync.wall_s >= 0.9  # type: ignore[operator]
    assert span(sync, "a")[1] <= span(sync, "b")[0]
    assert span(conc, "a")[0] < span(conc, "b")[1] and span(conc, "b")[0] < span(conc, "a")[1]
    assert span(conc, "c")[0] >= max(span(conc, "a")[1], span(conc, "b")[1])


# --- data flow ----------------------------------------------------------------------------


async def test_templates_receive_upstream_outputs_verbatim(sim_env: str):
    model = sim(0.05, tokens=30)
    [run] = await run_text(
        f"""
        [steps.fetch]
        wait = 0.1
        output = "  Ünïcode {{{{braces}}}}\\n\\tand asyncio coroutines  "
        [steps.first]
        model = "{model}"
        after = ["fetch"]
        prompt = "Context:\\n{{steps.fetch}}\\nQ: {{input}}"
        [steps.second]
        model = "{model}"
        after = ["first"]
        prompt = "Refine [{{steps.first}}] with {{steps.fetch}}"
        """,
        input_text="How does the event loop work?",
    )

    fetched = "  Ünïcode {braces}\n\tand asyncio coroutines  "
    assert run.result("fetch").text == fetched
    first_prompt = f"Context:\n{fetched}\nQ: How does the event loop work?"
    first = run.result("first")
    assert first.prompt == first_prompt
    assert first.text == expected_answer(model.removeprefix("sim:"), first_prompt)
    second_prompt = f"Refine [{first.text}] with {fetched}"
    assert run.result("second").text == expected_answer(model.removeprefix("sim:"), second_prompt)


async def test_llm_settings_come_from_defaults_and_steps(sim_env: str):
    model = sim(0.05, tokens=40)
    [run] = await run_text(
        f"""
        [defaults]
        max_tokens = 5
        [steps.capped]
        model = "{model}"
        [steps.own]
        model = "{model}"
        max_tokens = 9
        """
    )

    assert run.result("capped").text == expected_answer(model[4:], "Q?", max_tokens=5)
    assert run.result("own").text == expected_answer(model[4:], "Q?", max_tokens=9)


@pytest.mark.parametrize("mode", ["async", "sync"])
async def test_a_failed_step_skips_only_its_downstream(sim_env: str, mode: str):
    [run] = await run_text(
        f"""
        [steps.broken]
        model = "sim:error"
        [steps.child]
        model = "{sim(0.05)}"
        after = ["broken"]
        [steps.grandchild]
        wait = 0.1
        after = ["child"]
        [steps.healthy]
        wait = 0.2
        output = "fine"
        [steps.healthy_child]
        model = "{sim(0.05)}"
        after = ["healthy"]
        """,
        mode,
    )

    broken = run.result("broken")
    assert broken.state is State.FAILED and not broken.skipped
    assert "500" in (broken.error or "")
    for name in ("child", "grandchild"):
        r = run.result(name)
        assert r.skipped and r.error == "skipped: step 'broken' failed"
        assert r.text == "" and r.prompt is None
    assert run.result("healthy").ok and run.result("healthy_child").ok
    assert run.result("healthy_child").text


async def test_cancel_stops_every_step_and_keeps_the_record(sim_env: str):
    pipe = PipelineRunner(
        parse_pipeline(
            f"""
            [steps.w]
            wait = 5
            output = "never"
            [steps.m]
            model = "{sim(0.05, tokens=500, tps=20)}"
            [steps.next]
            model = "sim:fast"
            after = ["w"]
            """
        ),
        "Q?",
        "async",
    )
    task = asyncio.create_task(pipe.run())
    await asyncio.sleep(0.4)
    pipe.cancel()
    await asyncio.wait_for(task, 2)

    [run] = pipe.runs
    assert run.cancelled and run.over
    assert {r.state for r in run.results} == {State.CANCELLED}
    assert run.result("m").chunks  # what arrived is kept
    assert run.result("next").prompt is None


# --- get steps ----------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/doc":
            body = b"Document: asyncio runs one coroutine at a time.\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404, "Not Found")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("mode", ["async", "sync"])
async def test_get_steps_fetch_bodies_and_fail_on_errors(sim_env: str, http_url: str, mode: str):
    model = sim(0.05)
    [run] = await run_text(
        f"""
        [steps.doc]
        get = "{http_url}/doc"
        [steps.missing]
        get = "{http_url}/nope"
        [steps.refused]
        get = "http://127.0.0.1:{closed_port()}/"
        timeout = 5
        [steps.use]
        model = "{model}"
        after = ["doc"]
        prompt = "{{steps.doc}}"
        [steps.use_missing]
        wait = 0
        after = ["missing"]
        """,
        mode,
    )

    doc = run.result("doc")
    assert doc.ok and doc.text == "Document: asyncio runs one coroutine at a time.\n"
    assert doc.first_token == doc.end
    assert run.result("use").text == expected_answer(model[4:], doc.text)
    assert run.result("missing").error == "HTTP 404: Not Found"
    refused = run.result("refused")
    assert refused.state is State.FAILED and "refused" in (refused.error or "").lower()
    assert run.result("use_missing").error == "skipped: step 'missing' failed"


# --- the file format ----------------------------------------------------------------------


def test_templates_parse_braces_and_references():
    t = parse_template("{{literal}} {input} and {steps.a-b} }}")
    assert t.references == ("a-b",)
    assert t.render("IN", {"a-b": "{x}"}) == "{literal} IN and {x} }"
    for bad in ("a { b", "a } b", "{nope}", "{steps.}", "{steps.a.b}"):
        with pytest.raises(ValueError):
            parse_template(bad)


OK_STEP = '[steps.ok]\nwait = 1\noutput = "x"\n'
BAD_FILES = [
    ("", "no steps"),
    ('name = "x"\n[steps]\n', "no steps"),
    ("[steps.a\n", "not valid TOML"),
    ("colour = 1\n" + OK_STEP, "unknown top-level field 'colour'"),
    ("[defaults]\nmaxtokens = 3\n" + OK_STEP, "unknown field 'maxtokens' in [defaults]"),
    ('[steps.a]\nwait = 1\nafter = ["ghost"]\n', "step 'a': after names 'ghost', but there is no"),
    ('[steps.a]\nwait = 1\nafter = ["a"]\n', "step 'a': lists itself in after"),
    (
        '[steps.a]\nwait = 1\nafter = ["c"]\n[steps.b]\nwait = 1\nafter = ["a"]\n'
        '[steps.c]\nwait = 1\nafter = ["b"]\n' + OK_STEP,
        "dependency cycle a → b → c → a",
    ),
    (
        OK_STEP + '[steps.b]\nmodel = "sim:fast"\nprompt = "{steps.ok}"\n',
        "step 'b': prompt uses {steps.ok}, but 'ok' is not upstream",
    ),
    (
        OK_STEP + '[steps.b]\nwait = 1\nafter = ["ok"]\noutput = "{steps.zz}"\n',
        "step 'b': output uses {steps.zz}, but there is no step 'zz'",
    ),
    (
        OK_STEP + '[steps.b]\nmodel = "sim:fast"\nsystem = "{steps.ok}"\n',
        "step 'b': system uses {steps.ok}, but 'ok' is not upstream",
    ),
    ('[steps.a]\nmodel = "sim:fast"\nprompt = "{question}"\n', "step 'a': prompt: unknown place"),
    ('[steps.a]\nmodel = "sim:fast"\nprompt = "a } b"\n', "step 'a': prompt: lone '}'"),
    ('[steps.a]\nwait = 1\npromt = "x"\n', "step 'a': unknown field 'promt'"),
    ('[steps.a]\nwait = 1\nmodel = "sim:fast"\n', "step 'a': has both 'model' and 'wait'"),
    ("[steps.a]\nafter = []\n", "step 'a': says neither model, wait nor get"),
    ('[steps.a]\nwait = 1\nprompt = "x"\n', "step 'a': field 'prompt' does not apply to a wait"),
    ('[steps.a]\nwait = "2s"\n', "step 'a': wait must be a number"),
    ("[steps.a]\nwait = -1\n", "step 'a': wait must be a number of seconds, at least 0"),
    ('[steps.a]\nwait = 1\nafter = "b b"\n', "step 'a': after names 'b b'"),
    ("[steps.a]\nwait = 1\nafter = [1]\n", "step 'a': after must be a list of step names"),
    ('[steps.a]\nmodel = "nope:x"\n', "step 'a': unknown provider 'nope'"),
    ('[steps.a]\nmodel = "sim"\n', "step 'a': malformed model spec 'sim'"),
    ("[steps.a]\nmodel = 3\n", "step 'a': model must be a spec string"),
    ('[steps.a]\nmodel = "sim:fast"\ntemperature = 3\n', "step 'a': temperature must be"),
    ('[steps.a]\nmodel = "sim:fast"\nmax_tokens = 0\n', "step 'a': max_tokens must be"),
    ('[steps.a]\nmodel = "sim:fast"\ntimeout = 0\n', "step 'a': timeout must be a positive number"),
    ('[steps.a]\nget = "ftp://x"\n', "step 'a': get must be an http:// or https:// URL"),
    ('[steps."a b"]\nwait = 1\n', "step 'a b': bad step name"),
    ("steps = 3\n", "steps must be tables"),
]


@pytest.mark.parametrize(("text", "reason"), BAD_FILES, ids=[r for _, r in BAD_FILES])
def test_bad_files_name_the_file_the_step_and_the_reason(tmp_path: Path, text: str, reason: str):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PipelineError) as caught:
        load_pipeline(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert reason in message
    assert "\n" not in message


def test_an_unreadable_file_is_a_pipeline_error(tmp_path: Path):
    with pytest.raises(PipelineError, match=r"missing\.toml: cannot read the file"):
        load_pipeline(tmp_path / "missing.toml")


def test_the_examples_parse_into_the_seed_shapes():
    rag = load_pipeline(ROOT / "examples" / "rag.toml")
    assert [s.name for s in topological_order(rag)] == [
        "retrieve_db",
        "retrieve_web",
        "draft",
        "refine",
    ]
    assert upstream(rag, "refine") == {"draft", "retrieve_db", "retrieve_web"}
    assert rag.step("retrieve_db").seconds == rag.step("retrieve_web").seconds == 2.0
    assert rag.step("draft").model == "local:smollm2"
    fanout = load_pipeline(ROOT / "examples" / "fanout.toml")
    merge = fanout.step("merge")
    assert len(merge.after) >= 3 and all(fanout.step(d).kind == "llm" for d in merge.after)


async def test_time_scale_shrinks_waits_only(sim_env: str):
    rag = load_pipeline(ROOT / "examples" / "rag.toml")
    text = (ROOT / "examples" / "rag.toml").read_text().replace("local:smollm2", sim(0.05))
    text = text.replace('"sim:hosted"', f'"{sim(0.05)}"')
    pipe = PipelineRunner(parse_pipeline(text, "rag.toml"), "", "async", time_scale=0.1)
    [run] = await pipe.run()

    assert pipe.input == rag.input  # the file's own input when none is given
    assert all(r.ok for r in run.results)
    assert 0.2 <= span(run, "retrieve_db")[1] - span(run, "retrieve_db")[0] < 2.0  # unscaled: 2 s
    assert run.critical_path[1:] == ["draft", "refine"]


# --- the command line ---------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_cli_json_matches_the_run_shape(sim_env: str, tmp_path: Path):
    model = sim(0.05)
    path = write(
        tmp_path,
        f"""
        [steps.db]
        wait = 0.2
        output = "From the DB."
        [steps.web]
        wait = 0.3
        output = "From the web."
        [steps.answer]
        model = "{model}"
        after = ["db", "web"]
        prompt = "{{steps.db}} {{steps.web}} {{input}}"
        """,
    )
    out = modelrace("pipeline", path, "--input", "Why?", "--json", sim=sim_env)

    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert {"prompt", "runs", "speedup"} <= set(doc) and doc["prompt"] == "Why?"
    assert [r["mode"] for r in doc["runs"]] == ["sync", "async"]
    assert isinstance(doc["speedup"], float) and doc["speedup"] > 1
    contract = {
        "model",
        "ok",
        "text",
        "error",
        "start_s",
        "first_token_s",
        "end_s",
        "output_tokens",
        "tokens_per_s",
    }
    for run in doc["runs"]:
        assert {"mode", "wall_s", "ideal_s", "results"} <= set(run)
        results = {r["step"]: r for r in run["results"]}
        assert list(results) == ["db", "web", "answer"]
        for r in run["results"]:
            assert contract | {"step", "after", "critical"} <= set(r)
            assert isinstance(r["critical"], bool) and r["ok"] is True
        assert results["answer"]["after"] == ["db", "web"]
        assert results["answer"]["text"] == expected_answer(
            model[4:], "From the DB. From the web. Why?"
        )
        assert results["answer"]["critical"] and results["answer"]["model"] == model
    conc = doc["runs"][1]
    assert conc["critical_path"] == ["web", "answer"]
    assert [r["critical"] for r in conc["results"]] == [False, True, True]
    assert 0.3 <= conc["ideal_s"] <= conc["wall_s"]


def test_cli_text_report_and_exit_codes(sim_env: str, tmp_path: Path):
    ok = write(
        tmp_path,
        f'input = "hi"\n[steps.a]\nwait = 0.1\noutput = "A"\n[steps.b]\nmodel = "{sim(0.05)}"\n',
    )
    out = modelrace("pipeline", ok, "--mode", "async", sim=sim_env)
    assert out.returncode == 0, out.stderr
    assert "[async]" in out.stdout and "critical path:" in out.stdout
    assert "[sync]" not in out.stdout

    failing = write(
        tmp_path,
        'input = "hi"\n[steps.a]\nmodel = "sim:error"\n[steps.b]\nwait = 0\nafter = ["a"]\n',
    )
    out = modelrace("pipeline", failing, "--mode", "sync", sim=sim_env)
    assert out.returncode == 1
    assert "skipped: step 'a' failed" in out.stdout

    out = modelrace("pipeline", ok, "--mode", "threads", sim=sim_env)
    assert out.returncode == 2 and out.stderr.startswith("modelrace: unknown pipeline mode")
    out = modelrace("pipeline", str(tmp_path / "none.toml"), sim=sim_env)
    assert out.returncode == 2 and "cannot read the file" in out.stderr
    assert out.stdout == "" and len(out.stderr.strip().splitlines()) == 1


def test_cli_ctrl_c_keeps_what_arrived_and_exits_130(sim_env: str, tmp_path: Path):
    slow = "fast,ttft=0.05,tokens=400,tps=40,jitter=0"
    path = write(
        tmp_path,
        f'input = "hi"\n[steps.w]\nwait = 30\n[steps.m]\nmodel = "sim:{slow}"\n'
        '[steps.n]\nmodel = "sim:fast"\nafter = ["w"]\n',
    )
    status, stdout, stderr = interrupted("pipeline", path, "--mode", "async", sim=sim_env, after=4)

    assert status == 130, stderr
    assert "Traceback" not in stderr and "(cancelled)" in stdout
    body = stdout.split("--- m (")[1].split("\n", 1)[1].split("\n\n---")[0].strip()
    assert len(body) > 20 and expected_answer(slow, "hi").startswith(body)
