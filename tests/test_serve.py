"""`modelrace serve`: the dashboard raced from a real headless browser, and stopped cleanly.

The browser is Debian's Chromium driven by Playwright for Python; `make test` installs both
when missing (scripts/ensure_browser.sh). Without them the browser test is skipped, with the
reason. The page draws the terminal into canvases, so the outcome is read where the app leaves
it: the run store. Every process the server started carries a marker in its environment, so
"none left behind" is checked over every process on the machine, reparented ones included.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from providers.store import history, load

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
MISSING = ROOT / ".venv" / "browser-missing"
MARKER = "MODELRACE_SERVE_TEST"
MODELS = ["sim:fast", "sim:slow"]
PROMPT = "why is the sky blue?"


class Served:
    """A `modelrace serve` child process and the lines it printed."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tui", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        self.out: queue.Queue[str] = queue.Queue()
        self.err: list[str] = []
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.out.put)),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.err.append)),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: IO[str], put: object) -> None:
        for line in stream:
            put(line)  # type: ignore[operator]

    def url(self) -> str:
        try:
            line = self.out.get(timeout=30)
        except queue.Empty:
            raise AssertionError(f"no URL printed; stderr: {''.join(self.err)}") from None
        assert line.startswith("modelrace serve: http://127.0.0.1:"), line
        return line.split(": ", 1)[1].strip()

    def stop(self, sig: int) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=30)
        finally:
            for reader in self._readers:
                reader.join(timeout=5)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def marked(tag: str) -> list[str]:
    """Every live process whose environment carries this test's marker: 'pid cmdline'."""
    found = []
    needle = f"{MARKER}={tag}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue  # exited, waiting to be reaped
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        found.append(f"{entry.name} {cmdline.strip()}")
    return found


def dashboards(tag: str) -> list[str]:
    """The marked dashboard processes (`python -m tui -m SPEC …`), the server left out."""
    return [line for line in marked(tag) if " -m tui -m " in line]


def left_behind(tag: str, grace: float = 5.0) -> list[str]:
    """Marked processes still alive after `grace` seconds (a simulator ends on EOF)."""
    deadline = time.monotonic() + grace
    while (alive := marked(tag)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


@pytest.fixture
def serve_env(tmp_path: Path) -> Iterator[tuple[dict[str, str], str]]:
    tag = uuid.uuid4().hex
    env = dict(os.environ, MODELRACE_DB=str(tmp_path / "served.db"), **{MARKER: tag})
    env.pop("MODELRACE_SIM_URL", None)  # each dashboard starts its own simulator
    yield env, tag
    for line in marked(tag):  # never leave a process behind, even when the test failed
        os.kill(int(line.split()[0]), signal.SIGKILL)


def finished_race(db: Path) -> dict[str, object] | None:
    """The stored race's `show --json` document once every model of both runs is done."""
    if not db.exists():
        return None
    rows = history(None, None, path=db)
    if not rows:
        return None
    doc = load(rows[0].id or 0, path=db).document()
    results = [r for run in doc["runs"] for r in run["results"]]  # type: ignore[attr-defined]
    return doc if results and all(r["ok"] for r in results) else None


def browser_or_skip() -> None:
    reason = MISSING.read_text().strip() if MISSING.exists() else ""
    if not CHROMIUM.exists():
        pytest.skip(f"no browser: {CHROMIUM} is missing ({reason or 'see ensure_browser.sh'})")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"no Playwright for Python ({reason or exc})")


def test_a_race_from_the_browser_is_stored_and_ctrl_c_ends_every_dashboard(
    serve_env: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    browser_or_skip()
    from playwright.sync_api import sync_playwright

    env, tag = serve_env
    db = Path(env["MODELRACE_DB"])
    served = Served([arg for spec in MODELS for arg in ("-m", spec)], env)
    try:
        url = served.url()
        with sync_playwright() as pw:
            browser = pw.chromium.launch_persistent_context(
                str(tmp_path / "profile"),  # --user-data-dir, fresh
                executable_path=str(CHROMIUM),
                headless=True,
                viewport={"width": 1280, "height": 720},
                args=[
                    "--no-sandbox",
                    "--headless",
                    "--disable-gpu",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
            )
            page = browser.new_page()
            page.goto(url)
            assert page.title() == "modelrace · " + ", ".join(MODELS)
            page.wait_for_selector("body.-first-byte", timeout=30_000)
            # The tab's dashboard runs, marked as this server's child.
            deadline = time.monotonic() + 20
            while len(marked(tag)) < 2:  # server, dashboard
                assert time.monotonic() < deadline, marked(tag)
                time.sleep(0.1)
            # The prompt box sits above the footer: click there, then type into the app.
            box = page.locator("#terminal").bounding_box()
            assert box is not None
            page.wait_for_timeout(500)
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] - 4 * 19)
            page.keyboard.type(PROMPT)
            page.keyboard.press("Enter")
            deadline = time.monotonic() + 40
            while (doc := finished_race(db)) is None:
                assert time.monotonic() < deadline, "the race was not stored with every model done"
                time.sleep(0.2)
            page.wait_for_timeout(1000)  # the last frame reaches the page
            page.screenshot(path=str(tmp_path / "serve.png"))
            assert doc["prompt"] == PROMPT
            runs = doc["runs"]
            assert isinstance(runs, list) and [run["mode"] for run in runs] == ["sync", "async"]
            for run in runs:
                assert [r["model"] for r in run["results"]] == MODELS
            assert len(marked(tag)) == 3  # server, dashboard, and the simulator it started

            # Ctrl-C with the tab still open: the server and every dashboard end.
            status = served.stop(signal.SIGINT)
            # The server waited for its dashboards: none outlives it, not even briefly.
            assert dashboards(tag) == []
            browser.close()
        assert status == 0, "".join(served.err)
        assert left_behind(tag) == []
        assert (tmp_path / "serve.png").stat().st_size > 10_000
    finally:
        served.kill()


def test_sigterm_ends_the_server_and_the_dashboards_of_open_sessions(
    serve_env: tuple[dict[str, str], str],
) -> None:
    """Sessions over plain websockets (no browser needed): a closed one ends its dashboard,
    then SIGTERM ends the rest."""
    import asyncio

    import aiohttp

    env, tag = serve_env
    served = Served(["-m", "sim:fast"], env)

    async def open_sessions(url: str) -> int:
        ws_url = url.replace("http://", "ws://") + "/ws?width=100&height=30"
        async with aiohttp.ClientSession() as session:
            sockets = [await session.ws_connect(ws_url) for _ in range(2)]
            for ws in sockets:
                msg = await asyncio.wait_for(ws.receive(), 30)  # the dashboard drew its screen
                assert msg.type == aiohttp.WSMsgType.BINARY
            deadline = time.monotonic() + 20
            while len(marked(tag)) < 3:  # server, two dashboards
                assert time.monotonic() < deadline, marked(tag)
                await asyncio.sleep(0.1)
            count = len(marked(tag))
            # A third tab, closed: its dashboard ends with it.
            third = await session.ws_connect(ws_url)
            await asyncio.wait_for(third.receive(), 30)
            assert len(dashboards(tag)) == 3
            await third.close()
            while len(dashboards(tag)) > 2:
                assert time.monotonic() < deadline + 20, dashboards(tag)
                await asyncio.sleep(0.1)
            status = await asyncio.to_thread(served.stop, signal.SIGTERM)
            assert status == 0, "".join(served.err)
            assert dashboards(tag) == []
            for ws in sockets:
                await ws.close()
            return count

    try:
        assert asyncio.run(open_sessions(served.url())) == 3
        assert left_behind(tag) == []
        assert any("Ctrl-C stops them all" in line for line in served.err)
        assert not any("warning" in line for line in served.err)
    finally:
        served.kill()


def test_dashboards_of_a_killed_server_quit_by_themselves(
    serve_env: tuple[dict[str, str], str],
) -> None:
    """SIGKILL leaves the server no say: still, no dashboard outlives it."""
    import asyncio

    import aiohttp

    env, tag = serve_env
    served = Served(["-m", "sim:fast"], env)

    async def open_session(url: str) -> None:
        ws_url = url.replace("http://", "ws://") + "/ws?width=100&height=30"
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(ws_url)
            msg = await asyncio.wait_for(ws.receive(), 30)
            assert msg.type == aiohttp.WSMsgType.BINARY
            assert len(marked(tag)) == 2  # server, dashboard
            served.kill()
            await ws.close()

    try:
        asyncio.run(open_session(served.url()))
        assert left_behind(tag, grace=10) == []
    finally:
        served.kill()


def test_listening_beyond_loopback_says_who_can_spend_your_keys(
    serve_env: tuple[dict[str, str], str],
) -> None:
    env, tag = serve_env
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui", "serve", "--host", "0.0.0.0", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("modelrace serve: http://0.0.0.0:")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "not loopback: anyone who can reach it" in err and "spend your API keys" in err
    assert left_behind(tag) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "70000"], "port must be between 0 and 65535, not 70000"),
        (["--public-url", "example.org"], "--public-url must start with http:// or https://"),
        (["-m", "nope:x"], "unknown provider 'nope'"),
    ],
)
def test_bad_serve_arguments_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tui", "serve", *args], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2
    assert message in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert out.stdout == ""


def test_the_served_page_and_the_html_report_share_one_look(tmp_path: Path) -> None:
    """The same colours and fonts (the report's :root block) on both pages."""
    import urllib.request

    from providers.look import LOOK_CSS

    env = dict(os.environ, MODELRACE_DB=str(tmp_path / "x.db"))
    served = Served(["-m", "sim:fast"], env)
    try:
        with urllib.request.urlopen(served.url(), timeout=10) as response:
            page = response.read().decode()
        served.stop(signal.SIGTERM)
    finally:
        served.kill()
    race = subprocess.run(
        [sys.executable, "-m", "tui", "run", "hi", "-m", "sim:fast", "--mode", "async"],
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert race.returncode == 0
    report = subprocess.run(
        [sys.executable, "-m", "tui", "export", "1", "--format", "html"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    ).stdout
    assert "--mr-ink:#0c181f" in LOOK_CSS and "Roboto Mono" in LOOK_CSS
    assert LOOK_CSS in page and LOOK_CSS in report
    assert "googleapis" not in page  # nothing fetched from outside
    assert page.count("var(--mr-") >= 3 and report.count("var(--mr-") >= 3
