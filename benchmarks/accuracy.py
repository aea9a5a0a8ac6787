"""How close modelrace's figures are to what the simulator was told to do.

For each provider's wire format and each mode, a cold `modelrace run --json` (a fresh process,
as a user runs it) against the simulator with a known profile, several times; it prints the
measured minus the configured time to first token, inter-token latency, end-to-end time and
tokens per second (median, and the spread over the runs). Run it with

    .venv/bin/python benchmarks/accuracy.py [--runs 5] [--providers openai,gemini]
        [--modes sync,async] [--guidellm]

With --guidellm it also runs GuideLLM (the vLLM project's benchmark client) on the same
profile against the same simulator, offline, from its own virtual environment
(/tmp/guidellm-venv, created on first use from the package index), and prints its figures
beside ours. Without it, or when it cannot be installed or run, ours are printed alone.

The simulator runs in its own process so its pacing is not disturbed by the client.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from providers.catalog import pointed_at

ROOT = Path(__file__).resolve().parents[1]
TTFT_S, TPS, TOKENS = 0.3, 50.0, 40
PROFILE = f"fast,ttft={TTFT_S:g},tps={TPS:g},tokens={TOKENS},jitter=0"
TRUTH = {
    "ttft": TTFT_S,
    "itl": 1 / TPS,
    "e2e": TTFT_S + (TOKENS - 1) / TPS,
    "tps": TPS,
}
PROVIDERS = ("openai", "anthropic", "gemini", "ollama", "sim")
MODES = ("sync", "async")
PROMPT = "Explain asyncio in a few sentences."
GUIDELLM_VENV = Path("/tmp/guidellm-venv")
GUIDELLM_VERSION = "0.8.1"


@dataclass
class Sample:
    ttft: float
    itl: float
    e2e: float
    tps: float


def modelrace_command() -> list[str]:
    script = Path(sys.executable).parent / "modelrace"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tui"]


def sim_env(url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(pointed_at(url, "bench"), MODELRACE_SIM_URL=url, NO_PROXY="127.0.0.1,localhost")
    env.pop("GOOGLE_API_KEY", None)
    return env


def cold_run(provider: str, mode: str, env: dict[str, str]) -> Sample:
    """One `modelrace run` in a fresh process; its one result's figures."""
    cmd = [*modelrace_command(), "run", PROMPT, "-m", f"{provider}:{PROFILE}"]
    cmd += ["--mode", mode, "--json"]
    out = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise SystemExit(f"{provider} {mode}: exit {out.returncode}: {out.stderr.strip()}")
    [run] = json.loads(out.stdout)["runs"]
    [result] = run["results"]
    return Sample(
        ttft=result["first_token_s"] - result["start_s"],
        itl=result["inter_token_latency_s"],
        e2e=result["end_s"] - result["start_s"],
        tps=result["tokens_per_s"],
    )


def spread(values: list[float], scale: float) -> str:
    """Median and range of `values` minus nothing, scaled (ms for times)."""
    values = sorted(v * scale for v in values)
    return f"{statistics.median(values):+7.2f} [{values[0]:+.2f}..{values[-1]:+.2f}]"


def error_row(label: str, samples: list[Sample]) -> str:
    cells = []
    for name, scale in (("ttft", 1000), ("itl", 1000), ("e2e", 1000), ("tps", 1)):
        errors = [getattr(s, name) - TRUTH[name] for s in samples]
        cells.append(f"{spread(errors, scale):>26}")
    return f"{label:<26}" + "".join(cells)


def header() -> str:
    names = ("TTFT ms", "ITL ms", "end-to-end ms", "tokens/s")
    return f"{'measured - configured':<26}" + "".join(f"{n:>26}" for n in names)


# --- GuideLLM -----------------------------------------------------------------------------


def ensure_guidellm(venv: Path) -> Path | None:
    """GuideLLM's command in its own venv, installing it there on first use; None if not."""
    exe = venv / "bin" / "guidellm"
    if exe.exists():
        return exe
    print(f"installing guidellm {GUIDELLM_VERSION} into {venv} (once; a few minutes)…")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
        # A CPU-only torch when the machine provides one (GuideLLM imports torch).
        cpu_torch = sorted(Path("/opt/wheels").glob("torch-*+cpu-*.whl"))
        packages = [str(cpu_torch[-1])] if cpu_torch else []
        subprocess.run([*pip, *packages, f"guidellm=={GUIDELLM_VERSION}"], check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"GuideLLM could not be installed ({exc}); printing modelrace's figures alone.")
        return None
    return exe if exe.exists() else None


def run_guidellm(exe: Path, url: str, runs: int, route: str) -> list[Sample] | str:
    """GuideLLM, one request at a time, `runs` requests to `route`; its per-request figures,
    or why there are none. A scenario file carries the model name, whose commas and equals
    signs its command-line key=value syntax cannot."""
    with tempfile.TemporaryDirectory() as tmp:
        prompts = Path(tmp) / "prompts.txt"
        prompts.write_text((PROMPT + "\n") * max(runs, 1))
        output = Path(tmp) / "guidellm.json"
        backend = {"kind": "openai_http", "target": url, "model": PROFILE}
        backend.update(request_format=route, http2=False)
        scenario = {
            "metadata": {"name": "modelrace-accuracy", "description": PROFILE},
            "spec": {
                "backend": backend,
                "profile": {"kind": "synchronous"},
                "data": [{"kind": "text_file", "path": str(prompts)}],
                "constraints": [{"kind": "max_requests", "count": runs}],
                "outputs": [{"kind": "json", "path": str(output)}],
            },
        }
        config = Path(tmp) / "scenario.json"
        config.write_text(json.dumps(scenario))
        env = dict(os.environ, HF_HUB_OFFLINE="1", NO_PROXY="127.0.0.1,localhost")
        cmd = [str(exe), "run", "--config", str(config), "--disable-console"]
        try:
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            return "did not finish within 10 minutes"
        if done.returncode != 0 or not output.exists():
            why = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return f"failed (exit {done.returncode}): {why}"
        [benchmark] = json.loads(output.read_text())["benchmarks"]
    requests = benchmark["requests"]["successful"]
    if not requests:
        return "no request succeeded"
    return [
        Sample(
            ttft=r["time_to_first_token_ms"] / 1000,
            itl=r["inter_token_latency_ms"] / 1000,
            e2e=r["request_latency"],
            tps=1000 / r["inter_token_latency_ms"],  # ours: (tokens - 1) / (end - first token)
        )
        for r in requests
    ]


# --- main ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="cold runs per provider and mode")
    parser.add_argument("--providers", default=",".join(PROVIDERS))
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument(
        "--guidellm", action="store_true", help="also run GuideLLM (installed on first use)"
    )
    parser.add_argument("--guidellm-venv", type=Path, default=GUIDELLM_VENV)
    args = parser.parse_args()

    from providers.environment import loopback_no_proxy
    from providers.sim import start_sim_process

    loopback_no_proxy()
    print(
        f"profile {PROFILE}: truth TTFT {TRUTH['ttft'] * 1000:.0f} ms, ITL "
        f"{TRUTH['itl'] * 1000:.0f} ms, end-to-end {TRUTH['e2e'] * 1000:.0f} ms, "
        f"{TRUTH['tps']:g} tokens/s"
    )
    print(
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; "
        f"{args.runs} cold runs per row; median [min..max]"
    )
    with start_sim_process() as sim:
        env = sim_env(sim.url)
        print(header())
        for provider in args.providers.split(","):
            for mode in args.modes.split(","):
                samples = [cold_run(provider, mode, env) for _ in range(args.runs)]
                print(error_row(f"{provider} {mode}", samples), flush=True)
        if args.guidellm:
            exe = ensure_guidellm(args.guidellm_venv)
            if exe is not None:
                for route in ("/v1/completions", "/v1/chat/completions"):
                    got = run_guidellm(exe, sim.url, args.runs, route)
                    label = f"GuideLLM {route.removeprefix('/v1/')}"
                    if isinstance(got, str):
                        print(f"{label}: {got}")
                    else:
                        print(error_row(label, got), flush=True)
        else:
            print("GuideLLM: not run (pass --guidellm to compare with it)")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
