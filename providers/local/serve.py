"""Child process: serve one GGUF model with llama.cpp's own OpenAI-compatible HTTP server.

    python -m providers.local.serve --model PATH [--host 127.0.0.1] [--port 0] [--parallel 8]
        [--ctx-per-slot 1024] [--threads 1] [--alias NAME]

It runs in its own process so that token generation never competes with the dashboard's event
loop for the GIL, and so that sync clients really block on a socket. Protocol with the parent
(`LocalServer`): once `/health` answers 200, exactly one line `modelrace local ready URL` on
stdout; then it serves until stdin reaches EOF (the parent exited or closed it) or SIGTERM.
On failure: one line `modelrace local: REASON` on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .server import ERROR_PREFIX, READY_PREFIX


class ServeError(Exception):
    """A reason to exit with status 2; the message becomes the stderr line."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line the parent builds."""
    parser = argparse.ArgumentParser(prog="python -m providers.local.serve")
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--parallel", type=int, default=8, help="slots (concurrent streams)")
    parser.add_argument("--ctx-per-slot", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--alias", default="")
    parser.add_argument("--verbosity", type=int, default=1, help="llama.cpp log level")
    return parser.parse_args(argv)


def build_params(args: argparse.Namespace) -> Any:
    """llama.cpp server parameters.

    One thread for both decoding and prompt batches: on 2 cores, 2 threads collapse to about
    1 tok/s whenever another process is busy. `n_ctx` is split evenly across the slots.
    """
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(args.model)
    params.hostnames = [args.host]
    params.port = args.port
    params.n_parallel = args.parallel
    params.cont_batching = True
    params.n_ctx = args.parallel * args.ctx_per_slot
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.verbosity = args.verbosity
    if args.alias:
        params.model_alias = {args.alias}
    return params


@contextlib.contextmanager
def native_stderr_captured() -> Iterator[list[str]]:
    """Send file descriptor 2 (where llama.cpp's C++ logs go) to a temp file for a while.

    The C++ side only raises "Failed to init server"; the reason is in its log. The yielded
    list receives the captured text when the block ends.
    """
    captured: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            log.seek(0)
            captured.append(log.read().decode(errors="replace"))


def _error_lines(log_text: str) -> list[str]:
    # llama.cpp lines look like "0.00.003.761 E gguf_init_from_reader: invalid magic ..."
    lines = [line.split(" E ", 1)[1].strip() for line in log_text.splitlines() if " E " in line]
    return ["".join(c if c.isprintable() else "?" for c in line) for line in lines]


def explain_failure(args: argparse.Namespace, log_text: str) -> str:
    """Turn llama.cpp's error log into one line for a user."""
    errors = _error_lines(log_text)
    if "couldn't bind" in log_text:
        return f"cannot listen on {args.host}:{args.port} (port in use?)"
    if "failed to load model" in log_text:
        # The first error is the root cause; the rest repeat "failed to load model".
        detail = errors[0].split(": ", 1)[-1] if errors else ""
        return f"llama.cpp cannot load {args.model}" + (f" ({detail})" if detail else "")
    return "llama.cpp server failed to start" + (f": {errors[-1]}" if errors else "")


def start_server(args: argparse.Namespace) -> tuple[Any, str]:
    """Build the xllamacpp Server (blocks until the model is loaded); return it and its URL."""
    if not args.model.is_file():
        raise ServeError(f"no such model file: {args.model}")
    try:
        import xllamacpp
    except ImportError:
        raise ServeError("the llama.cpp engine is not installed (pip install xllamacpp)") from None
    params = build_params(args)
    with native_stderr_captured() as captured:
        try:
            server = xllamacpp.Server(params)
        except RuntimeError:
            server = None
    log_text = "".join(captured)
    if server is None:
        raise ServeError(explain_failure(args, log_text))
    if args.verbosity > 1:
        sys.stderr.write(log_text)
    # listening_address reports the real port when --port 0 was asked for.
    return server, server.listening_address


def wait_healthy(url: str, timeout: float = 30.0) -> None:
    """Poll /health until 200: llama.cpp answers 503 while the model is still loading."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while True:
        try:
            with opener.open(url + "/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise ServeError(f"{url}/health did not answer 200 within {timeout:g} s")
        time.sleep(0.05)


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    """Serve until stdin closes or SIGTERM; return the exit status."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGINT, _exit_on_signal)
    server = None
    try:
        server, url = start_server(args)
        wait_healthy(url)
        print(f"{READY_PREFIX}{url}", flush=True)
        while sys.stdin.buffer.read(65536):
            pass
        return 0
    except ServeError as exc:
        print(f"{ERROR_PREFIX}{exc}", file=sys.stderr, flush=True)
        return 2
    finally:
        # Dropping the last reference runs ~Server, which stops llama.cpp's loop cleanly.
        del server


if __name__ == "__main__":
    sys.exit(main())
