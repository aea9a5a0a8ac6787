"""The benchmark scripts still run: a tiny configuration end to end, every reported field there.

Speed figures belong to the benchmarks and the README; nothing here asserts on time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_app_load_runs_and_reports_every_field() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from app_load import FIELDS
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    env = {k: v for k, v in os.environ.items() if k != "MODELRACE_SIM_URL"}
    # Four models over the four wires (OpenAI, Anthropic, Gemini, Ollama SDKs).
    args = ["--models", "4", "--seconds", "1", "--wires", "mixed"]
    out = subprocess.run(
        [sys.executable, "benchmarks/app_load.py", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    assert lines[2].startswith("| models | answer | lag p50 / p99 / max (ms) | cores |")
    report = json.loads(lines[-1])
    runs = report["runs"]
    assert [(r["models"], r["variant"]) for r in runs] == [(4, "plain"), (4, "oneline")]
    for run in runs:
        missing = [name for name in FIELDS if name not in run]
        assert not missing, missing
        numbers = [name for name in FIELDS if name not in ("all_shown",)]
        assert all(isinstance(run[name], int | float) for name in numbers), run
        # Both races streamed every answer through the SDKs and the panels showed it all.
        assert run["failed"] == 0
        # The bare-SDK reference streamed every answer too, through the same four SDKs.
        assert run["bare_failed"] == 0
        assert run["all_shown"] is True
        assert run["panels_on_screen"] == 4
    # 100 tokens/s for 1 s; the one-line answer is 20,000 tokens whatever the time.
    assert [r["tokens_per_model"] for r in runs] == [100, 20_000]
    # Two table rows, one per configuration.
    assert sum(line.startswith("| 4 |") for line in lines) == 2
