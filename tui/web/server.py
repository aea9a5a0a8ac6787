"""The server behind `modelrace serve`: textual-serve's, with every dashboard tracked.

textual-serve starts a tab's app through a shell and, on shutdown, waits for its websocket
handlers; here each dashboard is started directly in a session of its own, and stopping the
server first ends every dashboard (quit, then SIGTERM, then SIGKILL to its process group).
The page is ours (serve_page.html): the report's look (providers/look.py), no font
fetched from outside, and asset addresses taken from the request unless --public-url is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from providers.look import LOOK_CSS
from tui.commands.serve import is_loopback

# How long a dashboard is given to quit, then to end on SIGTERM, before SIGKILL.
STOP_WAIT_S = 3.0
PAGE = Path(__file__).parent

log = logging.getLogger("modelrace.serve")


class Dashboard(AppService):
    """One tab's dashboard: its own process, in a session of its own."""

    def __init__(self, command: list[str], websocket: web.WebSocketResponse, **kwargs: Any):
        super().__init__(" ".join(command), **kwargs)
        self.argv = command
        self.websocket = websocket
        self.process: asyncio.subprocess.Process | None = None

    async def _open_app_process(
        self, width: int = 80, height: int = 24
    ) -> asyncio.subprocess.Process:
        # No shell between us and the dashboard: the pid we signal is the dashboard's.
        self.process = process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._build_environment(width=width, height=height),
            start_new_session=True,
        )
        self._process = process
        self._stdin = process.stdin
        return process

    async def end(self) -> None:
        """Ask it to quit as Ctrl-Q would (what streams is cancelled); then TERM, then KILL."""
        process = self.process
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(Exception):
                await self.send_meta({"type": "quit"})
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if process.returncode is not None:
                break
            if sig is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, sig)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), STOP_WAIT_S)
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, STOP_WAIT_S)
            self._task = None


class DashboardServer(Server):
    """textual-serve's server, with each dashboard tracked so that stopping ends them all."""

    def __init__(self, command: list[str], specs: list[str], public_url: str | None) -> None:
        super().__init__(
            " ".join(command),
            title="modelrace",
            public_url=public_url,
            templates_path=PAGE,
        )
        self.argv = command
        self.specs = specs
        self.fixed_url = public_url
        self.dashboards: set[Dashboard] = set()

    async def run(self, host: str, port: int) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, stop.set)
        app = await self._make_app()
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            bound = runner.addresses[0][1]
            shown = f"[{host}]" if ":" in host else host
            self.public_url = self.fixed_url or f"http://{shown}:{bound}"
            self._announce(host)
            await stop.wait()
            print("modelrace: stopping the server and its dashboards", file=sys.stderr)
        finally:
            # on_shutdown below ends every dashboard before the connections are closed.
            await runner.cleanup()

    def _announce(self, host: str) -> None:
        models = ", ".join(self.specs)
        print(f"modelrace serve: {self.public_url}", flush=True)
        print(
            f"each browser tab gets its own dashboard ({models}); Ctrl-C stops them all",
            file=sys.stderr,
        )
        if not is_loopback(host):
            print(
                f"modelrace: warning: listening on {host}, not loopback: anyone who can reach "
                "it can use these dashboards and spend your API keys",
                file=sys.stderr,
                flush=True,
            )

    async def on_startup(self, app: web.Application) -> None:
        """Quiet: `run` prints the address once it is listening."""

    async def on_shutdown(self, app: web.Application) -> None:
        dashboards = list(self.dashboards)
        await asyncio.gather(*(d.end() for d in dashboards), return_exceptions=True)
        for dashboard in dashboards:
            with contextlib.suppress(Exception):
                await dashboard.websocket.close()

    @aiohttp_jinja2.template("serve_page.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        # Without --public-url, assets and the websocket are wherever this page was reached.
        base = self.fixed_url or f"{request.scheme}://{request.host}"
        socket_base = ("wss:" if base.startswith("https") else "ws:") + base.split(":", 1)[1]
        return {
            "title": "modelrace · " + ", ".join(self.specs),
            "models": ", ".join(self.specs),
            "look_css": LOOK_CSS,
            "static_url": base.rstrip("/") + "/static/",
            "websocket_url": socket_base.rstrip("/") + "/ws",
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
        }

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        websocket = web.WebSocketResponse(heartbeat=15)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        await websocket.prepare(request)
        dashboard = Dashboard(
            self.argv,
            websocket,
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=websocket.close,
            download_manager=self.download_manager,
        )
        self.dashboards.add(dashboard)
        try:
            await dashboard.start(width, height)
            await self._process_messages(websocket, dashboard)
        except Exception as exc:
            log.warning("a dashboard ended with an error: %s", exc)
        finally:
            await dashboard.end()
            self.dashboards.discard(dashboard)
            await websocket.close()
        return websocket
