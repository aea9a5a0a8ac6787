"""Processes and signals: the simulator child lives exactly as long as its parent, and a
signal stops a run the way Ctrl-C does (cancelled, what arrived printed, 128 + signal)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from providers.local.paths import engine_available
from providers.sim import expected_answer

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc to find and watch processes"
)


def _own_sim_env() -> dict[str, str]:
    """The environment of a user with no simulator running: the command starts its own."""
    return {k: v for k, v in os.environ.items() if k != "MODELRACE_SIM_URL"}


def _alive(pid: int) -> bool:
    """True while `pid` runs (a zombie nobody has reaped yet counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _sim_children(parent: int, module: bytes = b"providers.sim") -> list[int]:
    """Processes running `python -m module` whose parent is `parent`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and module in cmdline:
            found.append(int(entry.name))
    return found


def _sockets(pid: int) -> int:
    count = 0
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                count += os.readlink(fd).startswith("socket:")
    return count


def _serving(parent: int, module: bytes = b"providers.sim") -> list[int]:
    """The parent's simulator children, once one has a client: listening and answering.

    (Killed before its child is listening, a parent takes the child with it anyway: the
    child's "listening" line hits a closed pipe. The tests must kill a parent later than that.)
    """
    children = _sim_children(parent, module)
    return children if any(_sockets(c) >= 2 for c in children) else []


def _wait_for(check, within: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} within {within} s")


def _assert_gone(children: list[int], within: float = 10) -> None:
    """Each child exits within `within` s; one that does not is killed, then the test fails."""
    try:
        _wait_for(lambda: not any(_alive(c) for c in children), within, "the child process exited")
    except AssertionError:
        for child in children:
            with contextlib.suppress(OSError):
                os.kill(child, signal.SIGKILL)
        raise


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tui", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_own_sim_env(),
        cwd=ROOT,
        start_new_session=True,  # a process group of its own, as a shell's job would have
    )


@pytest.fixture
def reap() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test started; killed at the end whatever happened."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


# ---- the simulator child dies with its parent ---------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_sim_child_is_gone_after_its_parent_is_killed(
    sig: signal.Signals, reap: list[subprocess.Popen[str]]
) -> None:
    proc = _start("run", "hi", "-m", "sim:slow,tokens=400", "--mode", "sync")
    reap.append(proc)
    children = _wait_for(lambda: _serving(proc.pid), 30, "the run is streaming from its simulator")
    os.kill(proc.pid, sig)
    proc.communicate(timeout=20)
    _assert_gone(children)


def test_sigterm_stops_a_run_like_ctrl_c(reap: list[subprocess.Popen[str]]) -> None:
    model = "sim:fast,ttft=0.05,tps=40,tokens=800,jitter=0"
    proc = _start("run", "hi", "-m", model, "-m", "sim:slow", "--mode", "sync", "--json")
    reap.append(proc)
    _wait_for(lambda: _serving(proc.pid), 30, "the run is streaming from its simulator")
    time.sleep(1.0)  # the first model streams for 20 s: stop it well inside that
    os.kill(proc.pid, signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 143, stderr
    fast, slow = json.loads(stdout)["runs"][0]["results"]
    assert fast["error_kind"] == "cancelled" and fast["text"]
    assert expected_answer(model.removeprefix("sim:"), "hi").startswith(fast["text"])
    assert (slow["error_kind"], slow["text"]) == ("cancelled", "")


def test_sigterm_stops_a_pipeline_like_ctrl_c(
    tmp_path: Path, reap: list[subprocess.Popen[str]]
) -> None:
    model = "sim:fast,ttft=0.05,tps=40,tokens=800,jitter=0"
    spec = tmp_path / "slow.toml"
    spec.write_text(
        'name = "slow"\ninput = "hi"\n'
        f'[steps.talk]\nmodel = "{model}"\nprompt = "{{input}}"\n'
        '[steps.then]\nwait = 1.0\noutput = "x"\nafter = ["talk"]\n'
    )
    proc = _start("pipeline", str(spec), "--mode", "sync", "--json")
    reap.append(proc)
    _wait_for(lambda: _serving(proc.pid), 30, "the pipeline is streaming from its simulator")
    time.sleep(1.0)
    os.kill(proc.pid, signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 143, stderr
    talk, then = json.loads(stdout)["runs"][0]["results"]
    assert talk["error_kind"] == "cancelled" and talk["text"]
    assert expected_answer(model.removeprefix("sim:"), "hi").startswith(talk["text"])
    assert (then["error_kind"], then["text"]) == ("cancelled", "")


@pytest.mark.skipif(not engine_available(), reason="xllamacpp is not installed")
def test_llama_child_is_gone_after_its_parent_is_killed(
    reap: list[subprocess.Popen[str]],
) -> None:
    proc = _start(
        "run", "Tell me a long story.", "-m", "local:smollm2", "--mode", "sync",
        "--max-tokens", "2000",
    )  # fmt: skip
    reap.append(proc)
    module = b"providers.local.serve"
    children = _wait_for(lambda: _serving(proc.pid, module), 60, "the local model is answering")
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=20)
    _assert_gone(children, within=15)


def _read_pty(fd: int, seconds: float) -> bytes:
    data = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                data += os.read(fd, 65536)
            except OSError:
                break
    return data


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_dashboard_killed_leaves_no_sim_child(
    sig: signal.Signals, reap: list[subprocess.Popen[str]]
) -> None:
    """The dashboard on a pseudo-terminal, a prompt sent, then the dashboard killed."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {**_own_sim_env(), "TERM": "xterm-256color"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui", "-m", "sim:slow,tokens=400"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    reap.append(proc)
    os.close(slave)
    try:
        _read_pty(master, 3)  # let it draw and focus the prompt
        os.write(master, b"hi\r")

        def started() -> list[int]:
            _read_pty(master, 0.1)
            return _serving(proc.pid)

        children = _wait_for(started, 30, "the dashboard streams from its simulator")
        _read_pty(master, 0.5)
        os.kill(proc.pid, sig)
        deadline = time.monotonic() + 15
        while proc.poll() is None and time.monotonic() < deadline:
            _read_pty(master, 0.1)
    finally:
        os.close(master)
    assert proc.returncode == (-signal.SIGKILL if sig == signal.SIGKILL else 143)
    _assert_gone(children)


# ---- Ctrl-C from a terminal: SIGINT to the whole process group -----------------------------


MODELS = ("sim:hosted,tokens=600", "sim:slow", "sim:stall")


def _interrupt_group(*extra: str) -> tuple[int, str, str]:
    proc = _start("run", "hi", *(a for m in MODELS for a in ("-m", m)), "--mode", "sync", *extra)
    try:
        _wait_for(lambda: _serving(proc.pid), 30, "the run is streaming from its simulator")
        time.sleep(2.0)  # sim:hosted is asked first: about 9 s of answer, first token at 0.6 s
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, stdout, stderr


def test_group_ctrl_c_in_sync_run_cancels_and_keeps_text_json() -> None:
    status, stdout, stderr = _interrupt_group("--json")
    assert status == 130, stderr
    hosted, slow, stall = json.loads(stdout)["runs"][0]["results"]
    assert hosted["error_kind"] == "cancelled", hosted["error"]
    assert hosted["text"] and expected_answer("hosted,tokens=600", "hi").startswith(hosted["text"])
    for later in (slow, stall):  # nothing starts after the cancel, nothing is called failed
        assert (later["error_kind"], later["text"], later["first_token_s"]) == (
            "cancelled",
            "",
            None,
        )


def test_group_ctrl_c_in_sync_run_prints_what_arrived() -> None:
    status, stdout, stderr = _interrupt_group()
    assert status == 130, stderr
    opening = expected_answer("hosted,tokens=600", "hi")[:40]
    assert opening in stdout
    assert "[cancelled: cancelled]" in stdout
    assert "failed" not in stdout
    assert "interrupted; what had arrived is shown above" in stderr


def test_sim_child_survives_a_ctrl_c_meant_for_its_parent(
    reap: list[subprocess.Popen[str]],
) -> None:
    """A parent that handles SIGINT itself keeps its simulator: the child never sees it."""
    code = (
        "import signal, sys\n"
        "signal.signal(signal.SIGINT, lambda *a: print('parent got SIGINT', flush=True))\n"
        "from providers.sim import ensure_sim\n"
        "print(ensure_sim(), flush=True)\n"
        "sys.stdin.read()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=_own_sim_env(),
        cwd=ROOT,
        start_new_session=True,
    )
    reap.append(proc)
    url = proc.stdout.readline().strip()
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.stdout.readline() == "parent got SIGINT\n"
    time.sleep(0.5)
    with urllib.request.urlopen(url + "/health", timeout=5) as response:
        assert response.status == 200
    proc.stdin.close()
