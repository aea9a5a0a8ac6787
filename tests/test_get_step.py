"""Pipeline `get` steps against a loopback server this file starts (issue 10, #4 and #5):
a total deadline, a size cap, lenient charsets, and a fetched key never shown."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cli_helpers import modelrace

from providers.pipeline import PipelineError, parse_pipeline
from tui.app import ModelRaceApp
from tui.history import PromptHistory

SECRET = "plainsecretvalue-0123456789"  # not shaped like a key: only the variable gives it away
BIG = 1_500_000


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        route = getattr(self, "route_" + self.path.strip("/").replace("-", "_"), None)
        if route is None:
            self.send_error(404)
            return
        with contextlib.suppress(OSError):  # the client hung up: that is what a deadline does
            route()

    def _send(self, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def route_drip(self) -> None:
        """Headers at once, then one byte every 0.2 s of a 1000-byte body."""
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        for _ in range(1000):
            self.wfile.write(b"x")
            self.wfile.flush()
            time.sleep(0.2)

    def route_drip_headers(self) -> None:
        """The status line, then a header that never ends, a byte every 0.2 s."""
        self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        for _ in range(1000):
            self.wfile.write(b"a")
            self.wfile.flush()
            time.sleep(0.2)

    def route_big_chunked(self) -> None:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        piece = b"y" * 65536
        for _ in range(BIG // len(piece) + 1):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        self.wfile.write(b"0\r\n\r\n")

    def route_big_declared(self) -> None:
        self._send(b"z" * BIG)

    def route_odd_charset(self) -> None:
        self._send(b"caf\xe9 ok\xff", "text/plain; charset=x-no-such-charset")

    def route_latin1(self) -> None:
        self._send(b"caf\xe9", "text/plain; charset=iso-8859-1")

    def route_key(self) -> None:
        self._send(f"# notes\n\nthe key is {SECRET} (do not share)\n".encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def web() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def pipeline_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "p.toml"
    path.write_text(text)
    return str(path)


def run_json(tmp_path: Path, sim: str, text: str, **env: str) -> dict:
    out = modelrace("pipeline", pipeline_file(tmp_path, text), "--json", sim=sim, **env)
    assert out.returncode in (0, 1), out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize("route", ["drip", "drip-headers"])
def test_a_dripping_server_is_cut_off_at_the_step_deadline(
    sim_env: str, tmp_path: Path, web: str, route: str
):
    doc = run_json(tmp_path, sim_env, f'[steps.f]\nget = "{web}/{route}"\ntimeout = 1\n')

    assert [run["mode"] for run in doc["runs"]] == ["sync", "async"]
    for run in doc["runs"]:
        [step] = run["results"]
        assert step["ok"] is False and step["error"] == "timed out after 1 s"
        assert step["error_kind"] == "timeout"
        assert step["end_s"] - step["start_s"] < 2.5, run["mode"]


@pytest.mark.parametrize("route", ["big-chunked", "big-declared"])
def test_a_body_over_the_cap_is_refused_and_the_cap_can_be_raised(
    sim_env: str, tmp_path: Path, web: str, route: str
):
    doc = run_json(tmp_path, sim_env, f'[steps.f]\nget = "{web}/{route}"\n')
    for run in doc["runs"]:
        [step] = run["results"]
        assert step["ok"] is False and step["text"] == ""
        assert "larger than max_bytes (1,000,000 bytes)" in step["error"]

    raised = run_json(
        tmp_path, sim_env, f'[steps.f]\nget = "{web}/{route}"\nmax_bytes = 2_000_000\n'
    )
    for run in raised["runs"]:
        [step] = run["results"]
        assert step["ok"] is True and len(step["text"]) >= BIG


def test_unknown_charsets_decode_with_replacement(sim_env: str, tmp_path: Path, web: str):
    doc = run_json(
        tmp_path,
        sim_env,
        f'[steps.odd]\nget = "{web}/odd-charset"\n[steps.latin]\nget = "{web}/latin1"\n',
    )
    for run in doc["runs"]:
        odd, latin = run["results"]
        assert odd["ok"] is True and odd["text"] == "caf\ufffd ok\ufffd"
        assert latin["ok"] is True and latin["text"] == "café"


@pytest.mark.parametrize(
    ("field", "reason"),
    [
        ("max_bytes = 0", "max_bytes must be a whole number, at least 1, not 0"),
        ('max_bytes = "1MB"', "max_bytes must be a whole number, at least 1, not '1MB'"),
        ("max_bytes = 1.5", "max_bytes must be a whole number, at least 1, not 1.5"),
        ("timeout = 1e12", "timeout must be a positive number of seconds up to 86400"),
    ],
)
def test_bad_get_settings_are_refused_at_load(field: str, reason: str):
    with pytest.raises(PipelineError, match=reason):
        parse_pipeline(f'[steps.f]\nget = "http://127.0.0.1:9/"\n{field}\n', "p.toml")


@pytest.mark.parametrize("variable", ["OPENAI_API_KEY", "GITHUB_TOKEN"])
def test_a_fetched_key_never_reaches_the_report_or_the_json(
    sim_env: str, tmp_path: Path, web: str, variable: str
):
    text = f'[steps.f]\nget = "{web}/key"\n'
    path = pipeline_file(tmp_path, text)
    env = {variable: SECRET}

    report = modelrace("pipeline", path, sim=sim_env, **env)
    assert report.returncode == 0, report.stderr
    assert "the key is *** (do not share)" in report.stdout
    assert SECRET not in report.stdout + report.stderr

    exported = modelrace("pipeline", path, "--json", sim=sim_env, **env)
    assert exported.returncode == 0, exported.stderr
    assert SECRET not in exported.stdout
    step = json.loads(exported.stdout)["runs"][0]["results"][0]
    assert "the key is *** (do not share)" in step["text"]


async def test_a_fetched_key_never_shows_in_a_panel(
    sim_env: str, tmp_path: Path, web: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    path = pipeline_file(tmp_path, f'[steps.f]\nget = "{web}/key"\n')
    app = ModelRaceApp(["sim:fast"], history=PromptHistory(None), mode="async")
    async with app.run_test(size=(160, 40)) as pilot:
        await app.open_pipeline(path)
        deadline = time.monotonic() + 10
        seen = []
        while app.race is None or app.racing or not app.runs:
            assert time.monotonic() < deadline
            seen.append(app.export_screenshot())
            await pilot.pause(0.02)
        await pilot.pause(0.5)
        seen.append(app.export_screenshot())
        [panel] = app.panels
        assert panel.result is not None and SECRET in panel.result.text  # it was fetched
        assert "***" in panel.view.text and SECRET not in panel.view.text
        assert all(SECRET not in shot for shot in seen)
        assert "the key is ***" in seen[-1].replace("&#160;", " ")
