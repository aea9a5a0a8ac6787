"""`modelrace serve`: the dashboard in a browser tab, for talks and screen sharing.

textual-serve runs one dashboard process per browser tab and streams its screen over a
websocket. Every dashboard runs with this process's environment, API keys included, so anyone
who can reach the address can spend them: loopback unless `--host` says otherwise, and then
the command says so.

Dashboards run in sessions of their own, so a terminal's Ctrl-C reaches the server only; the
server then asks each to quit, waits, and terminates (then kills) what is still there, before
it exits (tui/web/server.py). A dashboard whose server died (SIGKILL) notices it is orphaned
and quits by itself (tui/app.py), and a dashboard's simulator ends with it
(providers/sim/process.py). textual-serve is imported only when serving.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import sys
from typing import Any

from tui.commands.options import add_model_option
from tui.commands.run import EXIT_OK, EXIT_USAGE

HOST, PORT = "127.0.0.1", 8000


def add_command(commands: Any, spec_help: str) -> None:
    """Register `serve` on the main parser's subcommands."""
    serve = commands.add_parser(
        "serve",
        help="the dashboard in a browser, one per tab",
        description="Serve the dashboard to web browsers: each tab gets its own dashboard "
        "with these models. Ctrl-C stops the server and every dashboard it started.",
    )
    serve.add_argument(
        "--host",
        default=HOST,
        help=f"address to listen on ({HOST}); any other lets whoever reaches it spend your "
        "API keys",
    )
    serve.add_argument("--port", type=int, default=PORT, help=f"port, 0 for any free one ({PORT})")
    add_model_option(serve, spec_help)
    serve.add_argument(
        "--public-url",
        metavar="URL",
        help="the address browsers reach the server at, when not the one it listens on "
        "(behind a proxy or a tunnel), e.g. https://demo.example.org",
    )


def check_arguments(args: argparse.Namespace) -> str | None:
    """Bad usage as one line, or None."""
    if not 0 <= args.port <= 65535:
        return f"port must be between 0 and 65535, not {args.port}"
    url = args.public_url
    if url is not None and not url.startswith(("http://", "https://")):
        return f"--public-url must start with http:// or https://, not {url!r}"
    return None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def dashboard_command(specs: list[str]) -> list[str]:
    """What each tab runs: this modelrace's dashboard with the given models."""
    command = [sys.executable, "-m", "tui"]
    for spec in specs:
        command += ["-m", spec]
    return command


def run_serve(specs: list[str], args: argparse.Namespace) -> int:
    """Serve until Ctrl-C or SIGTERM; then no dashboard it started is left running."""
    problem = check_arguments(args)
    if problem:
        print(f"modelrace: {problem}", file=sys.stderr)
        return EXIT_USAGE
    from tui.web.server import DashboardServer

    logging.basicConfig(level=logging.WARNING, format="modelrace serve: %(message)s")
    server = DashboardServer(dashboard_command(specs), specs, args.public_url)
    try:
        asyncio.run(server.run(args.host, args.port))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        print(f"modelrace: cannot listen on {args.host}:{args.port}: {reason}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK
