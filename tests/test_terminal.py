"""The dashboard on a real pseudo-terminal: it must not outlive its terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time


def drain(fd: int, seconds: float) -> bytes:
    """Read what the app draws, so it never blocks on a full terminal."""
    out = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                out += os.read(fd, 65536)
            except OSError:
                break
    return out


def test_the_dashboard_quits_when_its_terminal_goes_away(sim_url: str):
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {**os.environ, "MODELRACE_SIM_URL": sim_url, "TERM": "xterm-256color"}
    env["MODELRACE_HISTORY"] = os.devnull
    # A session of its own and no SIGHUP: what happens when `make run` loses its window.
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui", "-m", "sim:fast"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    try:
        screen = drain(master, 4.0)
        assert b"sim:fast" in screen  # it really started and drew
        os.close(master)
        proc.wait(timeout=10)  # raises, failing the test, if it keeps running
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # The exit status, not a result: `make run` and scripts must see that it did not end well.
    assert proc.returncode == 1
