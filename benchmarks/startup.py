"""Time from process launch to the dashboard's first frame, and which SDKs were imported.

Each sample spawns a fresh interpreter that builds the dashboard with the default models and
runs it headless; the child reports the moment the first frame is handed to the driver and
exits. The parent times launch → that report. Target: under 0.6 s, with no SDK imported.

    .venv/bin/python benchmarks/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SDKS = ("openai", "anthropic", "google.genai", "ollama", "httpx", "xllamacpp")

CHILD = r"""
import sys, time, json
t0 = time.perf_counter()
from providers.config import load_config
from providers.defaults import default_specs
from tui.app import ModelRaceApp
from tui.history import PromptHistory
t_import = time.perf_counter() - t0
config = load_config()
app = ModelRaceApp(default_specs(config), config, history=PromptHistory(None))
original = app._display

def display(screen, renderable):
    if renderable is not None and not getattr(app, "_probe_done", False):
        app._probe_done = True
        sdks = [m for m in SDKS if m in sys.modules]
        print("FRAME " + json.dumps({"import_s": t_import, "sdks": sdks}), flush=True)
        app.call_later(app.exit)
    return original(screen, renderable)

app._display = display
app.run(headless=True, size=(200, 50))
"""


def sample() -> tuple[float, dict[str, object]]:
    code = f"SDKS = {SDKS!r}\n" + CHILD
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    info: dict[str, object] = {}
    elapsed = float("nan")
    for line in proc.stdout:
        if line.startswith("FRAME "):
            elapsed = time.perf_counter() - start
            info = json.loads(line[6:])
            break
    proc.wait(timeout=30)
    if not info:
        raise SystemExit(f"child never drew a frame:\n{proc.stderr.read() if proc.stderr else ''}")
    return elapsed, info


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    times, imports, sdks = [], [], set()
    for _ in range(args.runs):
        elapsed, info = sample()
        times.append(elapsed)
        imports.append(float(info["import_s"]))  # type: ignore[arg-type]
        sdks.update(info["sdks"])  # type: ignore[arg-type]
    print(f"launch → first frame over {args.runs} runs (headless, default models):")
    print(
        f"  median {statistics.median(times) * 1000:.0f} ms, "
        f"min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms (target < 600 ms)"
    )
    print(f"  importing the app: median {statistics.median(imports) * 1000:.0f} ms")
    print(f"  SDK modules loaded at first frame: {', '.join(sorted(sdks)) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
