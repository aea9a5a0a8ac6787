"""What a new user meets first on the command line: honest speedups, models that cannot start,
--version, a prompt from stdin, typos, help, and `models` in a pipe. Real processes only."""

from __future__ import annotations

import http.server
import json
import os
import pty
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import ROOT, modelrace

from providers.events import Failed, Finished, Started, TextDelta
from providers.failures import FailureKind
from providers.record import Result, Run, no_speedup_reason, speedup
from providers.sim import expected_answer

PROMPT = "Explain asyncio in one sentence."
QUICK = "fast,ttft=0.05,tokens=12,tps=200,jitter=0"


def run_with_stdin(*args: str, stdin: str | int, sim: str) -> subprocess.CompletedProcess[str]:
    """`modelrace` with its stdin a pipe (text) or an open file descriptor (a terminal)."""
    piped = isinstance(stdin, str)
    return subprocess.run(
        [sys.executable, "-m", "tui", *args],
        input=stdin if piped else None,
        stdin=None if piped else stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "MODELRACE_SIM_URL": sim},
        timeout=60,
        cwd=ROOT,
    )


# --- the speedup is claimed only when both sides did the same work --------------------------


# The conftest leaves no key set; `sim_env` would set one for every provider.


def test_no_key_gives_no_speedup_and_says_why_before_anything_races(sim_url: str):
    out = modelrace("run", "hi", "-m", "openai:gpt-4o", sim=sim_url)

    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.splitlines() == [
        "modelrace: cannot run openai:gpt-4o: OPENAI_API_KEY is not set; "
        "export it or add it to .env"
    ]
    assert "faster" not in out.stdout + out.stderr


def test_a_model_failing_on_both_sides_gives_null_and_a_reason_line(sim_env: str):
    out = modelrace("run", PROMPT, "-m", "sim:error", "-m", "sim:flaky", sim=sim_env)
    assert out.returncode == 1
    reason = "No speedup: sim:error failed on both sides; sim:flaky failed on both sides"
    assert reason in out.stdout.splitlines()
    assert "faster" not in out.stdout

    out = modelrace("run", PROMPT, "-m", "sim:error", "--json", sim=sim_env)
    assert out.returncode == 1
    assert json.loads(out.stdout)["speedup"] is None


class _FailsFirst(http.server.BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint whose first answer is HTTP 500 and every later one a
    short stream: in `--mode both` the sync side fails and the async side answers."""

    calls = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.lock:
            type(self).calls += 1
            first = self.calls == 1
        if first:
            body = b'{"error": {"message": "boom", "type": "server_error"}}'
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for delta, reason in (({"content": "hello"}, None), ({}, "stop")):
            chunk = {
                "id": "x",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "m",
                "choices": [{"index": 0, "delta": delta, "finish_reason": reason}],
            }
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fails_first(tmp_path: Path) -> Iterator[Path]:
    """A config file naming the endpoint `flip`, served by `_FailsFirst` on loopback."""
    _FailsFirst.calls = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FailsFirst)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = tmp_path / "modelrace.toml"
    config.write_text(f'[endpoints.flip]\nbase_url = "http://127.0.0.1:{server.server_port}/v1"\n')
    try:
        yield config
    finally:
        server.shutdown()
        server.server_close()


def test_a_model_failing_on_one_side_only_gives_null(sim_env: str, fails_first: Path):
    args = ("run", PROMPT, "-m", f"sim:{QUICK}", "-m", "flip:m")
    out = modelrace(*args, "--json", sim=sim_env, MODELRACE_CONFIG=str(fails_first))

    assert out.returncode == 1, out.stderr
    doc = json.loads(out.stdout)
    states = [[r["state"] for r in run["results"]] for run in doc["runs"]]
    assert states == [["done", "failed"], ["done", "done"]]
    assert doc["speedup"] is None

    _FailsFirst.calls = 0
    out = modelrace(*args, sim=sim_env, MODELRACE_CONFIG=str(fails_first))
    assert "No speedup: flip:m failed on the sync side only" in out.stdout.splitlines()


def test_when_every_model_finished_on_both_sides_the_speedup_is_a_number(sim_env: str):
    out = modelrace("run", PROMPT, "-m", f"sim:{QUICK}", "-m", "sim:fast,tokens=5", sim=sim_env)
    assert out.returncode == 0, out.stderr
    assert re.search(r"Conclusion: Async was (not faster|[\d.]+x faster!)", out.stdout)
    assert "No speedup" not in out.stdout

    out = modelrace(
        "run", PROMPT, "-m", f"sim:{QUICK}", "-m", "sim:fast,tokens=5", "--json", sim=sim_env
    )
    assert isinstance(json.loads(out.stdout)["speedup"], float)


def _run(mode: str, outcomes: dict[str, bool], *, wall: float = 1.0) -> Run:
    """A finished run in which each model finished (True) or failed (False)."""
    results = []
    for model, done in outcomes.items():
        result = Result(model)
        result.apply(Started(0.0))
        result.apply(TextDelta(0.1, "x"))
        result.apply(Finished(0.5) if done else Failed(0.5, "boom", FailureKind.HTTP, 500))
        results.append(result)
    return Run(mode, results, concurrent=mode != "sync", t0=0.0, t_end=wall)


def test_the_reason_the_dashboard_shows_names_what_kept_the_sides_apart():
    both = {"a": True, "b": True}
    assert speedup([_run("sync", both, wall=2.0), _run("async", both)]) == 2.0
    assert no_speedup_reason([_run("sync", both, wall=2.0), _run("async", both)]) is None

    one_side = [_run("sync", both), _run("async", {"a": True, "b": False})]
    assert speedup(one_side) is None
    assert no_speedup_reason(one_side) == "b failed on the async side only"

    cancelled = _run("async", both)
    cancelled.cancelled = True
    assert speedup([_run("sync", both), cancelled]) is None
    assert no_speedup_reason([_run("sync", both), cancelled]) == "the async run was cancelled"

    unfinished = _run("async", both)
    unfinished.t_end = None
    assert no_speedup_reason([_run("sync", both), unfinished]) == "the async run has not finished"
    assert no_speedup_reason([_run("sync", both)]) == "there is no async run to compare with"


# --- a model that cannot start is named before the race; the others race --------------------


def test_unusable_models_are_named_first_and_the_others_race(sim_url: str):
    out = modelrace(
        "run",
        PROMPT,
        "-m",
        "anthropic:claude-haiku-4-5",
        "-m",
        f"sim:{QUICK}",
        "-m",
        "gemini:gemini-2.5-flash",
        "--mode",
        "async",
        "--json",
        sim=sim_url,
    )

    assert out.returncode == 1
    lines = out.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("modelrace: skipping anthropic:claude-haiku-4-5: ")
    assert "ANTHROPIC_API_KEY is not set" in lines[0]
    assert lines[1].startswith("modelrace: skipping gemini:gemini-2.5-flash: ")
    assert "GEMINI_API_KEY is not set" in lines[1]
    [run] = json.loads(out.stdout)["runs"]
    assert [(r["model"], r["text"]) for r in run["results"]] == [
        (f"sim:{QUICK}", expected_answer(QUICK, PROMPT))
    ]


def test_exit_2_when_no_model_can_run(sim_url: str):
    out = modelrace(
        "run",
        PROMPT,
        "-m",
        "openai:gpt-5-mini",
        "-m",
        "gemini:gemini-2.5-flash",
        "-m",
        "anthropic:claude-haiku-4-5",
        "--json",
        sim=sim_url,
    )

    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.splitlines()
    starts = ("cannot run openai:", "cannot run gemini:", "cannot run anthropic:")
    assert len(lines) == 3
    for line, start in zip(lines, starts, strict=True):
        assert line.startswith(f"modelrace: {start}")


# --- expected manners ----------------------------------------------------------------------


def test_version_comes_from_the_package_metadata(sim_url: str):
    from importlib.metadata import version

    out = modelrace("--version", sim=sim_url)
    assert out.returncode == 0
    assert out.stdout == f"modelrace {version('modelrace')}\n"


def test_dash_reads_the_prompt_from_stdin(sim_url: str):
    out = run_with_stdin(
        "run",
        "-",
        "-m",
        f"sim:{QUICK}",
        "--mode",
        "async",
        "--json",
        stdin="piped prompt\n",
        sim=sim_url,
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["prompt"] == "piped prompt"
    assert doc["runs"][0]["results"][0]["text"] == expected_answer(QUICK, "piped prompt")


def test_no_prompt_reads_a_piped_stdin_but_not_a_terminal(sim_url: str):
    args = ("run", "-m", f"sim:{QUICK}", "--mode", "async", "--json")
    out = run_with_stdin(*args, stdin="from a pipe", sim=sim_url)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["prompt"] == "from a pipe"

    leader, terminal = pty.openpty()
    try:
        out = run_with_stdin(*args, stdin=terminal, sim=sim_url)
    finally:
        os.close(terminal)
        os.close(leader)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "no prompt" in out.stderr


@pytest.mark.parametrize(("typo", "meant"), [("rn", "run"), ("model", "models"), ("simm", "sim")])
def test_an_unknown_command_suggests_the_closest(sim_url: str, typo: str, meant: str):
    out = modelrace("-m", "sim:fast", typo, "hello", sim=sim_url)
    assert out.returncode == 2
    assert out.stderr == f"modelrace: unknown command '{typo}'; did you mean '{meant}'?\n"


def _options_without_help(help_text: str) -> list[str]:
    """Option lines of an argparse help page that carry no description."""
    section = help_text.split("options:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    bare = []
    for i, line in enumerate(section):
        if not line.startswith("  -"):
            continue
        inline = re.match(r"  (\S.*?)(\s{2,}\S.*)?$", line)
        continued = i + 1 < len(section) and section[i + 1].startswith(" " * 8)
        if not (inline and inline.group(2)) and not continued:
            bare.append(line.strip())
    return bare


@pytest.mark.parametrize("command", [[], ["run"], ["sim"], ["pipeline"], ["models"]])
def test_every_flag_has_help(sim_url: str, command: list[str]):
    out = modelrace(*command, "--help", sim=sim_url)
    assert out.returncode == 0
    assert _options_without_help(out.stdout) == []
    if command in ([], ["run"], ["models"]):
        assert re.search(r"-m SPEC, --model SPEC\s+PROVIDER:MODEL", out.stdout)


def test_models_exit_status_says_whether_all_are_usable(sim_url: str):
    ready = modelrace("models", "-m", "sim:fast", "-m", "sim:slow", sim=sim_url)
    assert ready.returncode == 0, ready.stderr

    one_bad = modelrace("models", "-m", "sim:fast", "-m", "anthropic:claude-haiku-4-5", sim=sim_url)
    assert one_bad.returncode == 1
    assert "unusable" in one_bad.stdout and one_bad.stderr == ""

    assert "1 when any is unusable" in modelrace("models", "--help", sim=sim_url).stdout


def test_models_into_a_closed_pipe_leaves_stderr_empty(sim_url: str):
    """`modelrace models | head -1`, where head has gone before the last write."""
    # As for a user: stdout into a pipe is block-buffered, so the last write is at exit.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    reader, writer = os.pipe()
    os.close(reader)  # `| head -1` that has already read its line and gone
    try:
        out = subprocess.run(
            [sys.executable, "-m", "tui", "models", "-m", "sim:fast"],
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            env={**env, "MODELRACE_SIM_URL": sim_url},
            timeout=60,
            cwd=ROOT,
        )
    finally:
        os.close(writer)
    assert out.stderr == ""
