"""``python -m providers.sim``: the simulator in the foreground (``modelrace sim`` calls main)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import threading
from collections.abc import Callable

from .server import SimServer, _reason


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted; 0 on Ctrl-C or SIGTERM, 2 when the address cannot be used."""
    parser = argparse.ArgumentParser(
        prog="modelrace sim", description="Simulated OpenAI/Anthropic/Gemini/Ollama server."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    # For a child of modelrace (process.py): the parent holds our stdin open while it lives, so
    # EOF means it is gone, however it died (even SIGKILL), and we must go too.
    parser.add_argument("--exit-with-stdin", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    server = SimServer(args.host, args.port)

    def ready(url: str) -> None:
        print(f"modelrace sim listening on {url}", flush=True)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None  # run() is asyncio.run's main task
        with _suppress_signal_errors():
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
        if args.exit_with_stdin:
            _watch_stdin(lambda: loop.call_soon_threadsafe(task.cancel))
        with contextlib.suppress(asyncio.CancelledError):
            await server.serve(ready)

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        return 0
    except (OSError, OverflowError) as exc:
        print(
            f"modelrace sim: cannot listen on {args.host}:{args.port}: {_reason(exc)}",
            file=sys.stderr,
        )
        return 2
    return 0


def _watch_stdin(on_eof: Callable[[], object]) -> None:
    """Call `on_eof` (from a daemon thread) once stdin reaches EOF or fails."""

    def watch() -> None:
        with contextlib.suppress(OSError, ValueError):
            while sys.stdin.buffer.read(65536):
                pass
        on_eof()

    threading.Thread(target=watch, name="modelrace-sim-stdin", daemon=True).start()


class _suppress_signal_errors:
    """add_signal_handler is missing on Windows and outside the main thread."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: object, tb: object) -> bool:
        return kind is not None and issubclass(kind, (NotImplementedError, RuntimeError))


if __name__ == "__main__":
    sys.exit(main())
