"""`modelrace run`, `models` and `sim` as a user runs them: a real process, real sockets."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
from cli_helpers import interrupted, modelrace

from providers.sim import expected_answer

PROMPT = "Explain asyncio in one sentence."
QUICK = "fast,ttft=0.05,tokens=12,tps=200,jitter=0"


def test_run_json_matches_the_contract(sim_env: str):
    out = modelrace(
        "run", PROMPT, "-m", f"sim:{QUICK}", "-m", "sim:slow,tokens=5", "--json", sim=sim_env
    )

    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert set(doc) == {"prompt", "runs", "speedup"} and doc["prompt"] == PROMPT
    assert [run["mode"] for run in doc["runs"]] == ["sync", "async"]
    for run in doc["runs"]:
        assert isinstance(run["wall_s"], float) and isinstance(run["ideal_s"], float)
        for result in run["results"]:
            contract = {
                "model": str,
                "ok": bool,
                "text": str,
                "start_s": float,
                "end_s": float,
                "output_tokens": int,
                "tokens_per_s": float,
                "first_token_s": float,
            }
            for key, kind in contract.items():
                assert isinstance(result[key], kind), (key, result[key])
            assert result["error"] is None
            assert result["start_s"] <= result["first_token_s"] <= result["end_s"]
    first = doc["runs"][0]["results"][0]
    assert first["model"] == f"sim:{QUICK}" and first["text"] == expected_answer(QUICK, PROMPT)
    assert doc["speedup"] == pytest.approx(
        doc["runs"][0]["wall_s"] / doc["runs"][1]["wall_s"], rel=1e-3
    )


def test_run_prints_tables_and_the_seed_conclusion(sim_env: str):
    out = modelrace(
        "run", PROMPT, "-m", f"sim:{QUICK}", "-m", "sim:fast,ttft=0.3,tokens=5", sim=sim_env
    )

    assert out.returncode == 0, out.stderr
    for needle in ("[sync]", "[async]", "TTFT", "tok/s", "wall", "ideal", "overhead", "Sync Time:"):
        assert needle in out.stdout
    assert "Conclusion: Async was" in out.stdout
    assert expected_answer(QUICK, PROMPT) in out.stdout


def test_a_failed_model_exits_1_with_its_error(sim_env: str):
    out = modelrace(
        "run",
        PROMPT,
        "-m",
        f"sim:{QUICK}",
        "-m",
        "sim:error",
        "--mode",
        "async",
        "--json",
        sim=sim_env,
    )

    assert out.returncode == 1
    [run] = json.loads(out.stdout)["runs"]
    failed = run["results"][1]
    assert failed["ok"] is False and "HTTP 500" in failed["error"]
    assert run["results"][0]["ok"] is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", PROMPT, "-m", "sim:fast", "--mode", "fast"], "unknown mode 'fast'"),
        (["run", PROMPT, "-m", "sim:fast", "--mode", "limit=0"], "limit must be at least 1"),
        (["run", PROMPT, "-m", "sim:fast", "--timeout", "-1"], "timeout must be a positive"),
        (["run", PROMPT, "-m", "gpt-5"], "malformed model spec 'gpt-5'"),
        (["run", PROMPT, "-m", "mistral:large"], "unknown provider 'mistral'"),
        (["run", "   ", "-m", "sim:fast"], "the prompt is empty"),
        (["run", PROMPT, "--temperature", "7"], "temperature must be between 0 and 2"),
        (["run", PROMPT, "--bogus"], "unrecognized arguments: --bogus"),
        (["run", PROMPT, "-m", "sim:nosuch"], "unknown sim model 'nosuch'"),
        (["run", PROMPT, "-m", "sim:fast,ttft=abc"], "bad value for 'ttft'"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(sim_env: str, args: list[str], message: str):
    out = modelrace(*args, sim=sim_env)

    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.count("\n") == 1 and message in out.stderr
    assert "Traceback" not in out.stderr


def test_ctrl_c_prints_what_arrived_and_exits_130(sim_env: str):
    slow = "slow,ttft=0.05,tokens=400,tps=40"
    args = ("run", PROMPT, "-m", f"sim:{slow}", "--mode", "async")
    status, stdout, stderr = interrupted(*args, sim=sim_env, after=4)

    assert status == 130, stderr
    assert "cancelled" in stdout and "Traceback" not in stderr
    body = stdout.split("--- sim:")[1].split("\n", 1)[1].split("\n\n[")[0].strip()
    assert len(body) > 20 and expected_answer(slow, PROMPT).startswith(body)


def test_models_lists_usability_without_keys(sim_url: str):
    secret = "sk-thisisaverysecretkey0123456789"
    specs = ["sim:fast", "openai:gpt-5-mini", "anthropic:claude-haiku-4-5", "sim:nope"]
    args = [arg for spec in specs for arg in ("-m", spec)]
    out = modelrace("models", *args, sim=sim_url, OPENAI_API_KEY=secret)
    assert out.returncode == 1, out.stderr  # some are unusable
    lines = out.stdout.splitlines()
    assert any("sim:fast" in line and "ready" in line for line in lines)
    assert any("openai:gpt-5-mini" in line and "ready" in line for line in lines)
    assert any("anthropic" in line and "ANTHROPIC_API_KEY is not set" in line for line in lines)
    assert any("sim:nope" in line and "unusable" in line for line in lines)
    assert secret not in out.stdout + out.stderr


def test_sim_command_refuses_a_port_in_use():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run(
            [sys.executable, "-m", "tui", "sim", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=20,
        )
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "address already in use" in out.stderr


def test_dash_m_before_the_command_counts_and_a_closed_pipe_is_quiet(sim_env: str):
    out = modelrace("-m", f"sim:{QUICK}", "run", PROMPT, "--mode", "async", "--json", sim=sim_env)
    assert out.returncode == 0, out.stderr
    assert [r["model"] for r in json.loads(out.stdout)["runs"][0]["results"]] == [f"sim:{QUICK}"]

    env = {**os.environ, "MODELRACE_SIM_URL": sim_env}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui", "models"] + ["-m", "sim:fast"] * 8000,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    proc.stdout.readline()  # type: ignore[union-attr]
    proc.stdout.close()  # type: ignore[union-attr]
    stderr = proc.stderr.read().decode()  # type: ignore[union-attr]
    proc.wait(timeout=30)
    assert "Traceback" not in stderr


def test_ctrl_c_in_threads_mode_does_not_wait_for_a_stalled_read(sim_env: str):
    stalled = "fast,ttft=0.05,tokens=40,fault=stall,after=3"
    args = ("run", PROMPT, "-m", f"sim:{stalled}", "--mode", "threads")
    status, stdout, stderr = interrupted(*args, sim=sim_env, after=3)

    assert status == 130, stderr
    assert expected_answer(stalled, PROMPT, max_tokens=3).strip() in stdout


def test_the_text_report_shows_escape_sequences_instead_of_sending_them(sim_env: str):
    out = modelrace("run", PROMPT, "-m", "sim:markup", "--mode", "async", sim=sim_env)

    assert out.returncode == 0, out.stderr
    assert "\x1b" not in out.stdout
    assert "␛[2J" in out.stdout and "[bold red]x[/]" in out.stdout


def test_json_exports_never_carry_a_key(sim_env: str):
    secret = "sk-thisisaverysecretkey0123456789"
    prompt = f"my key is {secret}, keep it safe"
    out = modelrace(
        "run",
        prompt,
        "-m",
        f"sim:{QUICK}",
        "--json",
        "--mode",
        "async",
        sim=sim_env,
        OPENAI_API_KEY=secret,
    )
    assert out.returncode == 0, out.stderr
    assert secret not in out.stdout
    assert json.loads(out.stdout)["prompt"] == "my key is ***, keep it safe"
