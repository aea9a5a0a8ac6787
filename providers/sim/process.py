"""Running the simulator in a child process, and a process-wide shared instance.

A separate process keeps the simulator's pacing away from the GIL of a busy client process
(the dashboard, the benchmarks); ``ensure_sim`` lets every ``sim:`` model share one.

The child must die with its parent, however the parent dies, and must not die before it:
- it runs in its own session, so a terminal's Ctrl-C (SIGINT to the foreground process group)
  reaches the parent only, which then cancels and reports what arrived;
- it exits when its stdin reaches EOF, and only the parent holds the other end of that pipe,
  so even a SIGKILL of the parent ends it. (PR_SET_PDEATHSIG would fire when the *thread*
  that started the child ends, and ``ensure_sim`` runs on short-lived worker threads.)
"""

from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from .profiles import SimError

_READY_PREFIX = "modelrace sim listening on "


class SimProcess:
    """A ``python -m providers.sim`` child process; ``.url`` is its base URL."""

    def __init__(self, proc: subprocess.Popen[str], url: str) -> None:
        self.proc = proc
        self.url = url

    def stop(self) -> None:
        """Terminate the child, wait for it, kill it if it will not go."""
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> SimProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_sim_process(host: str = "127.0.0.1", port: int = 0) -> SimProcess:
    """Start the simulator as a subprocess and wait (up to 10 s) for its listening line."""
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    cmd = [sys.executable, "-m", "providers.sim", "--host", host, "--port", str(port)]
    cmd.append("--exit-with-stdin")
    # stderr goes to a file, not a pipe: nobody drains it once the server runs
    with tempfile.TemporaryFile("w+") as errors:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env=env,
            cwd=root,
            start_new_session=True,
        )
        stdout = proc.stdout
        assert stdout is not None  # stdout=PIPE above
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(10)
        first = line[0].strip() if line else ""
        if not first.startswith(_READY_PREFIX):
            proc.kill()
            proc.wait()
            errors.seek(0)
            err = errors.read().strip().splitlines()
            why = err[-1] if err else ("no listening line within 10 s" if not line else repr(first))
            raise SimError(f"sim process failed to start: {why}")
    return SimProcess(proc, first[len(_READY_PREFIX) :])


_lock = threading.Lock()
_shared: SimProcess | None = None


def ensure_sim() -> str:
    """URL of a running simulator: ``$MODELRACE_SIM_URL``, or one child process per process."""
    global _shared
    url = os.environ.get("MODELRACE_SIM_URL")
    if url:
        return url.rstrip("/")
    with _lock:
        if _shared is None or _shared.proc.poll() is not None:
            _shared = start_sim_process()
            atexit.register(_shared.stop)
        return _shared.url
