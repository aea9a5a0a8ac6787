"""Inputs that used to crash, hang or disagree (issue 10, #7, #8, #9): each is now one line on
stderr and exit 2, from a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import ROOT, modelrace

PROMPT = "hello"
QUICK = "sim:fast,ttft=0.01,tokens=3,tps=500,jitter=0"


def one_line_exit_2(out: subprocess.CompletedProcess[str], needle: str = "") -> str:
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert out.stdout == ""
    assert out.stderr.startswith("modelrace: ") and out.stderr.count("\n") == 1, out.stderr
    assert "Traceback" not in out.stderr and needle in out.stderr, out.stderr
    assert "\x1b" not in out.stderr
    return out.stderr


# --- #7: inputs that crashed or hung ------------------------------------------------------


def test_invalid_utf8_in_dotenv(sim_env: str, tmp_path: Path):
    (tmp_path / ".env").write_bytes(b"OPENAI_API_KEY=\xff\xfe\n")
    out = modelrace("run", PROMPT, "-m", QUICK, sim=sim_env, cwd=tmp_path, MODELRACE_NO_DOTENV="")
    one_line_exit_2(out, ".env: cannot read .env file (not valid UTF-8")


@pytest.mark.parametrize("flag", [[], ["--json"]])
def test_invalid_utf8_prompt(sim_env: str, flag: list[str]):
    prompt = os.fsdecode(b"caf\xff")  # what Python makes of the raw byte in argv
    out = modelrace("run", prompt, "-m", QUICK, *flag, sim=sim_env)
    one_line_exit_2(out, "the prompt is not valid UTF-8: 'caf\\udcff'")


def test_a_valid_prompt_gives_strict_json(sim_env: str):
    out = modelrace("run", "caf\u00e9 \u2603", "-m", QUICK, "--json", sim=sim_env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout, strict=True)["prompt"] == "caf\u00e9 \u2603"


def _config(tmp_path: Path, make) -> str:  # type: ignore[no-untyped-def]
    path = tmp_path / "cfg.toml"
    make(path)
    return str(path)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.write_text("a = " + "[" * 100_000 + "]" * 100_000), "nested too deeply"),
        (lambda p: p.write_text("# filler\n" * 200_000), "larger than 1,000,000 bytes"),
        (lambda p: os.mkfifo(p), "not a regular file"),
        (lambda p: p.write_bytes(b"models = ['\xff']"), "not valid UTF-8"),
    ],
    ids=["deep", "huge", "fifo", "utf8"],
)
def test_bad_config_files(sim_env: str, tmp_path: Path, make, reason: str):  # type: ignore[no-untyped-def]
    path = _config(tmp_path, make)
    out = modelrace("run", PROMPT, "-m", QUICK, sim=sim_env, MODELRACE_CONFIG=path)
    one_line_exit_2(out, reason)


def test_config_from_dev_zero(sim_env: str):
    out = modelrace("run", PROMPT, "-m", QUICK, sim=sim_env, MODELRACE_CONFIG="/dev/zero")
    one_line_exit_2(out, "/dev/zero: cannot read config file (not a regular file)")


def test_a_fifo_pipeline_file(sim_env: str, tmp_path: Path):
    fifo = tmp_path / "p.toml"
    os.mkfifo(fifo)
    one_line_exit_2(modelrace("pipeline", str(fifo), sim=sim_env), "not a regular file")


def test_output_to_a_full_disk_is_one_line(sim_env: str):
    with open("/dev/full", "w") as full:
        out = subprocess.run(
            [sys.executable, "-m", "tui", "run", PROMPT, "-m", QUICK, "--json"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "MODELRACE_SIM_URL": sim_env},
            cwd=ROOT,
            timeout=60,
        )
    assert out.returncode == 1
    assert out.stderr == "modelrace: cannot write the output: No space left on device\n"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", PROMPT, "-m", QUICK, "--timeout", "1e12"], "timeout must be a positive"),
        (["run", PROMPT, "-m", QUICK, "--timeout", "inf"], "timeout must be a positive"),
    ],
)
def test_huge_timeouts(sim_env: str, args: list[str], needle: str):
    one_line_exit_2(modelrace(*args, sim=sim_env), needle)


@pytest.mark.parametrize(
    "step",
    ["wait = 1e12", "wait = 1e300", 'get = "http://127.0.0.1:9/"\ntimeout = 1e12'],
)
def test_huge_waits_are_refused_at_load(sim_env: str, tmp_path: Path, step: str):
    path = tmp_path / "p.toml"
    path.write_text(f"[steps.w]\n{step}\n")
    for mode in ("sync", "async"):
        one_line_exit_2(modelrace("pipeline", str(path), "--mode", mode, sim=sim_env), "step 'w'")


# --- #8: usage checks that agree ----------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("sim:nope", "unknown sim model 'nope'"),
        ("local:nope", "unknown local model 'nope'"),
        ("local:/etc/passwd", "not a GGUF model file: /etc/passwd"),
        ("local:/no/such/model.gguf", "no such model file"),
    ],
)
def test_bad_model_names_are_usage_errors_for_every_provider(sim_env: str, spec: str, needle: str):
    one_line_exit_2(modelrace("run", PROMPT, "-m", spec, sim=sim_env), needle)


@pytest.mark.parametrize(
    ("spec", "needle"), [("sim:nope", "unknown sim model"), ("local:nope", "unknown local model")]
)
def test_a_pipeline_step_with_a_bad_model_is_refused_at_load(
    sim_env: str, tmp_path: Path, spec: str, needle: str
):
    path = tmp_path / "p.toml"
    path.write_text(f'input = "x"\n[steps.w]\nwait = 30\n[steps.m]\nmodel = "{spec}"\n')
    stderr = one_line_exit_2(modelrace("pipeline", str(path), sim=sim_env), needle)
    assert f"step 'm': model '{spec}'" in stderr


def test_a_pipeline_with_no_prompt_and_no_input_is_refused(sim_env: str, tmp_path: Path):
    path = tmp_path / "p.toml"
    path.write_text('[steps.m]\nmodel = "sim:fast"\n')
    one_line_exit_2(modelrace("pipeline", str(path), sim=sim_env), "would send an empty prompt")
    given = modelrace("pipeline", str(path), "--input", "hi", "--mode", "async", sim=sim_env)
    assert given.returncode == 0, given.stderr


def test_an_empty_rendered_prompt_fails_the_step(sim_env: str, tmp_path: Path):
    path = tmp_path / "p.toml"
    path.write_text(
        '[steps.w]\nwait = 0\noutput = ""\n'
        '[steps.m]\nmodel = "sim:fast"\nafter = ["w"]\nprompt = "{steps.w}"\n'
    )
    out = modelrace("pipeline", str(path), "--json", "--mode", "async", sim=sim_env)
    assert out.returncode == 1, out.stderr
    step = json.loads(out.stdout)["runs"][0]["results"][1]
    assert step["ok"] is False and "the prompt is empty" in step["error"]


# --- #9: what the user typed, echoed safely -------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "shown"),
    [
        ("sim:\x1b[31mred", "'sim:\\x1b[31mred'"),
        ("sim:a\nb", "'sim:a\\nb'"),
        ("gpt\x1b[2J", "'gpt\\x1b[2J'"),
        ("sim\u202e:x", "bad provider name 'sim\\u202e'"),
        ("x" * 10_000, "(10000 characters)"),
        ("sim:" + "a" * 10_000, "(10004 characters)"),
    ],
    ids=["esc", "newline", "malformed-esc", "bidi", "10kb-malformed", "10kb-model"],
)
def test_echoed_input_is_escaped_and_capped(sim_env: str, spec: str, shown: str):
    stderr = one_line_exit_2(modelrace("run", PROMPT, "-m", spec, sim=sim_env), shown)
    assert len(stderr) < 450 and stderr[:-1].isprintable()


def test_escapes_in_other_errors(sim_env: str, tmp_path: Path):
    one_line_exit_2(
        modelrace("run", PROMPT, "-m", QUICK, "--mode", "\x1b[31m", sim=sim_env),
        "unknown mode '\\x1b[31m'",
    )
    one_line_exit_2(modelrace("run", PROMPT, "--bogus\x1b", sim=sim_env), "--bogus\\x1b")
    path = tmp_path / "p.toml"
    path.write_text('[steps.w]\nwait = 1\n"bad\\u001b" = 2\n')
    one_line_exit_2(modelrace("pipeline", str(path), sim=sim_env), "'bad\\x1b'")
