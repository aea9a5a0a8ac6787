"""``python -m providers.sim``: the simulator in the foreground (``modelrace sim`` calls main)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from .server import SimServer, _reason


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted; 0 on Ctrl-C or SIGTERM, 2 when the address cannot be used."""
    parser = argparse.ArgumentParser(
        prog="modelrace sim", description="Simulated OpenAI/Anthropic/Gemini/Ollama server."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    server = SimServer(args.host, args.port)

    def ready(url: str) -> None:
        print(f"modelrace sim listening on {url}", flush=True)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        with _suppress_signal_errors():
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
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


class _suppress_signal_errors:
    """add_signal_handler is missing on Windows and outside the main thread."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: object, tb: object) -> bool:
        return kind is not None and issubclass(kind, (NotImplementedError, RuntimeError))


if __name__ == "__main__":
    sys.exit(main())
