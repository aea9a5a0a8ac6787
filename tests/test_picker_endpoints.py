"""The model picker lists what each configured endpoint serves, asked over loopback."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from screen import on_screen, screen_text
from test_app import FAST, until

from providers.config import load_config
from tui.app import ModelRaceApp
from tui.history import PromptHistory
from tui.screens.models import ModelPickerScreen

KEY = "sk-picker-secret-0123456789"


class ModelsHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path != "/v1/models":
            self.send_error(404)
            return
        if self.headers.get("Authorization") != f"Bearer {KEY}":
            self.send_error(401)
            return
        body = json.dumps(
            {"object": "list", "data": [{"id": "model-a"}, {"id": "model-b"}]}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def models_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ModelsHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def dashboard() -> ModelRaceApp:
    """The dashboard with the config `$MODELRACE_CONFIG` names, as `modelrace` opens it."""
    return ModelRaceApp([FAST], history=PromptHistory(None), config=load_config())


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A server that takes the connection and never says a word."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield f"http://127.0.0.1:{s.getsockname()[1]}/v1"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_the_picker_lists_each_endpoints_models_and_notes_one_that_is_down(
    models_url: str, silent_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PICKER_TEST_KEY", KEY)
    config = tmp_path / "modelrace.toml"
    config.write_text(
        f'[endpoints.lab]\nbase_url = "{models_url}"\napi_key_env = "PICKER_TEST_KEY"\n\n'
        f'[endpoints.gone]\nbase_url = "http://127.0.0.1:{closed_port()}/v1"\n\n'
        f'[endpoints.mute]\nbase_url = "{silent_url}"\n'
    )
    monkeypatch.setenv("MODELRACE_CONFIG", str(config))
    app = dashboard()
    async with app.run_test(size=(120, 50)) as pilot:
        await pilot.press("ctrl+l")
        assert isinstance(app.screen, ModelPickerScreen)
        await until(pilot, lambda: on_screen(app, "lab:model-a", "lab:model-b"), 5)
        await until(pilot, lambda: on_screen(app, "gone: no model list (not reachable)"), 5)
        # The silent one is still being asked while the others have answered, then gives up.
        assert on_screen(app, "mute: checking…")
        await until(pilot, lambda: on_screen(app, "mute: no model list (timed out)"), 6)
        assert KEY not in screen_text(app)
        # A listed model joins the race only once switched on.
        app.screen.query_one("#models").select("lab:model-b")
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert [p.spec for p in app.panels] == [FAST, "lab:model-b"]


async def test_a_wrong_key_shows_a_note_not_models(
    models_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PICKER_TEST_KEY", "sk-wrong-key-000000000000")
    config = tmp_path / "modelrace.toml"
    config.write_text(
        f'[endpoints.lab]\nbase_url = "{models_url}"\napi_key_env = "PICKER_TEST_KEY"\n'
    )
    monkeypatch.setenv("MODELRACE_CONFIG", str(config))
    app = dashboard()
    async with app.run_test(size=(120, 50)) as pilot:
        await pilot.press("ctrl+l")
        await until(pilot, lambda: on_screen(app, "lab: no model list (HTTP 401)"), 5)
        assert not on_screen(app, "lab:model-a")
        assert "sk-wrong-key" not in screen_text(app)
