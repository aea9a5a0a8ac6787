"""Start, find and stop llama.cpp server children, one per model file.

Every call here blocks (process start, waiting for the model to load, waiting for exit):
call them from a worker thread (`asyncio.to_thread`), never on an event loop.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from .paths import LocalModelError, check_model_file, require_engine

# The child's protocol (see serve.py); defined here so importing this module stays cheap.
READY_PREFIX = "modelrace local ready "
ERROR_PREFIX = "modelrace local: "

# The directory that holds the `providers` package, so the child can import it even when
# modelrace runs from a checkout that is not installed.
_IMPORT_ROOT = str(Path(__file__).resolve().parents[2])


class LocalServer:
    """One `python -m providers.local.serve` child serving one GGUF file.

    The child reads stdin until EOF, so it dies with this process even on SIGKILL.
    """

    def __init__(
        self, model_path: Path, parallel: int = 8, ctx_per_slot: int = 1024, threads: int = 1
    ) -> None:
        self.model_path = Path(model_path)
        self.parallel = parallel
        self.ctx_per_slot = ctx_per_slot
        self.threads = threads
        self.base_url: str | None = None
        self.load_seconds: float | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=50)
        self._stderr_pump: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        """The child's process id, once started."""
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        """True while the child process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        """The child's command line (port 0: llama.cpp picks a free port and reports it)."""
        return [
            sys.executable, "-m", "providers.local.serve",
            "--model", str(self.model_path),
            "--host", "127.0.0.1", "--port", "0",
            "--parallel", str(self.parallel),
            "--ctx-per-slot", str(self.ctx_per_slot),
            "--threads", str(self.threads),
            "--alias", self.model_path.stem,
        ]  # fmt: skip

    def start(self, timeout: float = 60.0) -> str:
        """Spawn the child, wait until the model is loaded; return the OpenAI base URL.

        Blocks for the load (about half a second for SmolLM2). Raises LocalModelError with the
        child's reason if it exits first, or if it is not ready within `timeout` seconds.
        """
        if self.running and self.base_url:
            return self.base_url
        require_engine()
        check_model_file(self.model_path)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_IMPORT_ROOT, env.get("PYTHONPATH")]))
        started = time.perf_counter()
        self._proc = subprocess.Popen(
            self.command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            # Its own session: a Ctrl-C meant for the app does not kill the server under it.
            start_new_session=True,
        )
        lines: queue.Queue[str | None] = queue.Queue()
        _pump(self._proc.stdout, lines.put, on_end=lambda: lines.put(None))
        self._stderr_pump = _pump(self._proc.stderr, self._stderr_tail.append)
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            self.stop()
            raise LocalModelError(
                f"the local model server did not start within {timeout:g} s"
            ) from None
        if line is None or not line.startswith(READY_PREFIX):
            raise LocalModelError(self._failure_reason())
        self.load_seconds = time.perf_counter() - started
        self.base_url = line[len(READY_PREFIX) :].strip() + "/v1"
        return self.base_url

    def _failure_reason(self) -> str:
        assert self._proc is not None
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=5)  # stdout closed: the child is on its way out
        self.stop()
        status = self._proc.returncode
        if self._stderr_pump is not None:
            self._stderr_pump.join(timeout=2)
        for line in reversed(self._stderr_tail):
            if line.startswith(ERROR_PREFIX):
                return line[len(ERROR_PREFIX) :]
        tail = self._stderr_tail[-1] if self._stderr_tail else "no output"
        return f"the local model server exited with status {status}: {tail}"

    def stop(self) -> None:
        """Terminate the child (SIGTERM, then SIGKILL after 5 s) and reap it. Idempotent."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdin:
            proc.stdin.close()
        self.base_url = None

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _pump(
    stream: IO[str] | None,
    sink: Callable[[str], None],
    on_end: Callable[[], None] | None = None,
) -> threading.Thread:
    """Read a child's pipe to the end on a daemon thread.

    Draining both pipes means a chatty llama.cpp log can never fill a pipe and stall the child;
    the None end mark on stdout lets start() notice an early exit at once.
    """

    def run() -> None:
        assert stream is not None
        with stream:
            for line in stream:
                sink(line.rstrip("\n"))
        if on_end is not None:
            on_end()

    thread = threading.Thread(target=run, name="modelrace-local-pipe", daemon=True)
    thread.start()
    return thread


_servers: dict[Path, LocalServer] = {}
_start_locks: dict[Path, threading.Lock] = {}
_registry_lock = threading.Lock()
_atexit_registered = False


def _key(model_path: Path | str) -> Path:
    return Path(model_path).expanduser().resolve()


def ensure_local_server(model_path: Path | str, timeout: float = 60.0) -> str:
    """Return the OpenAI base URL of the server for this file, starting it if needed.

    One server per resolved path for the whole process: two threads asking at once start one
    child (the second waits for the first). A dead child is replaced. Blocks while starting.
    """
    global _atexit_registered
    key = _key(model_path)
    with _registry_lock:
        start_lock = _start_locks.setdefault(key, threading.Lock())
        if not _atexit_registered:
            atexit.register(shutdown_local_servers)
            _atexit_registered = True
    with start_lock:
        server = _servers.get(key)
        if server is not None and server.running and server.base_url:
            return server.base_url
        server = LocalServer(key)
        url = server.start(timeout=timeout)
        with _registry_lock:
            _servers[key] = server
        return url


def get_local_server(model_path: Path | str) -> LocalServer | None:
    """The registered server for this file, if one was started (for status and figures)."""
    with _registry_lock:
        return _servers.get(_key(model_path))


def shutdown_local_servers() -> None:
    """Stop every server that ensure_local_server started (also run at interpreter exit)."""
    with _registry_lock:
        servers = list(_servers.values())
        _servers.clear()
    for server in servers:
        server.stop()
