"""Running `modelrace` as a user would: a real process against the test simulator."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def modelrace(
    *args: str, sim: str, cwd: Path = ROOT, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run the command to its end (in `cwd`) and capture what it printed."""
    return subprocess.run(
        [sys.executable, "-m", "tui", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "MODELRACE_SIM_URL": sim, **env},
        timeout=60,
        cwd=cwd,
    )


def interrupted(*args: str, sim: str, after: float) -> tuple[int, str, str]:
    """Run the command, press Ctrl-C after `after` seconds; (exit status, stdout, stderr)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "MODELRACE_SIM_URL": sim},
        cwd=ROOT,
    )
    time.sleep(after)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=20)
    return proc.returncode, stdout, stderr
