"""A project-local modelrace.toml is used only once trusted, by exact content (issue 10, #6)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cli_helpers import modelrace

TOKEN = "ghp_0123456789abcdefghijklmnopqrstuvwxyz"


class _Recorder(BaseHTTPRequestHandler):
    seen: list[str]

    def do_POST(self) -> None:
        self.seen.append(self.headers.get("Authorization", ""))
        body = json.dumps({"error": {"message": "no"}}).encode()
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def attacker() -> Iterator[tuple[str, list[str]]]:
    """A loopback server standing for the attacker's: it records the Authorization headers."""
    seen: list[str] = []
    handler = type("Handler", (_Recorder,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    server.shutdown()
    server.server_close()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, str]]:
    """A checked-out repository as the current directory, with the user's dirs elsewhere."""
    repo = tmp_path / "repo"
    repo.mkdir()
    monkeypatch.delenv("MODELRACE_CONFIG")
    env = {
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "GITHUB_TOKEN": TOKEN,
    }
    return repo, env


def _hostile(url: str) -> str:
    return f'models = ["x:gpt"]\n[endpoints.x]\nbase_url = "{url}"\napi_key_env = "GITHUB_TOKEN"\n'


def test_untrusted_local_config_is_ignored_until_trusted(
    sim_env: str, project: tuple[Path, dict[str, str]], attacker: tuple[str, list[str]]
):
    repo, env = project
    url, seen = attacker
    config = repo / "modelrace.toml"
    config.write_text(_hostile(url))

    ignored = modelrace(
        "run", "hello", "-m", "x:gpt", "--mode", "async", sim=sim_env, cwd=repo, **env
    )
    assert ignored.returncode == 2 and seen == []
    lines = ignored.stderr.splitlines()
    assert len(lines) == 2 and "not trusted" in lines[0] and "modelrace trust" in lines[0]
    assert str(config) in lines[0] and "unknown provider 'x'" in lines[1]

    trusted = modelrace("trust", sim=sim_env, cwd=repo, **env)
    assert trusted.returncode == 0 and str(config) in trusted.stdout, trusted.stderr

    used = modelrace("run", "hello", "--mode", "async", "--json", sim=sim_env, cwd=repo, **env)
    assert used.returncode == 1 and used.stderr == ""
    assert [r["model"] for r in json.loads(used.stdout)["runs"][0]["results"]] == ["x:gpt"]
    assert seen == [f"Bearer {TOKEN}"]
    assert TOKEN not in used.stdout


def test_a_changed_file_is_untrusted_again(sim_env: str, project: tuple[Path, dict[str, str]]):
    repo, env = project
    config = repo / "modelrace.toml"
    config.write_text('models = ["sim:fast"]\n')
    assert modelrace("trust", str(config), sim=sim_env, cwd=repo, **env).returncode == 0
    listed = modelrace("models", sim=sim_env, cwd=repo, **env)
    assert listed.stderr == "" and f"from {config}" in listed.stdout

    config.write_text('models = ["sim:flaky"]\n')
    changed = modelrace("models", sim=sim_env, cwd=repo, **env)
    assert changed.stderr.count("\n") == 1 and "changed since it was trusted" in changed.stderr
    assert "built-in default set" in changed.stdout and "sim:flaky" not in changed.stdout

    assert modelrace("trust", sim=sim_env, cwd=repo, **env).returncode == 0
    again = modelrace("models", sim=sim_env, cwd=repo, **env)
    assert again.stderr == "" and "sim:flaky" in again.stdout


def test_user_config_and_explicit_config_need_no_trust(
    sim_env: str, project: tuple[Path, dict[str, str]], tmp_path: Path
):
    repo, env = project
    user = Path(env["XDG_CONFIG_HOME"]) / "modelrace" / "modelrace.toml"
    user.parent.mkdir(parents=True)
    user.write_text('models = ["sim:flaky"]\n')
    listed = modelrace("models", sim=sim_env, cwd=repo, **env)
    assert listed.stderr == "" and f"from {user}" in listed.stdout

    explicit = tmp_path / "mine.toml"
    explicit.write_text('models = ["sim:hosted"]\n')
    env["MODELRACE_CONFIG"] = str(explicit)
    listed = modelrace("models", sim=sim_env, cwd=repo, **env)
    assert listed.stderr == "" and "sim:hosted" in listed.stdout


def test_trusting_a_missing_file_is_one_line_and_exit_2(
    sim_env: str, project: tuple[Path, dict[str, str]]
):
    repo, env = project
    out = modelrace("trust", sim=sim_env, cwd=repo, **env)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == "modelrace: 'modelrace.toml': no such file\n"


def test_a_config_named_by_dotenv_needs_trust_too(
    sim_env: str, project: tuple[Path, dict[str, str]]
):
    """A `.env` ships with the repository as well: it must not point past the trust check."""
    repo, env = project
    env = {**env, "MODELRACE_NO_DOTENV": ""}
    (repo / "evil.toml").write_text('models = ["sim:flaky"]\n')
    (repo / ".env").write_text("MODELRACE_CONFIG=evil.toml\n")
    ignored = modelrace("models", sim=sim_env, cwd=repo, **env)
    assert "sim:flaky" not in ignored.stdout
    assert ignored.stderr.count("\n") == 1 and "run `modelrace trust evil.toml`" in ignored.stderr

    assert modelrace("trust", "evil.toml", sim=sim_env, cwd=repo, **env).returncode == 0
    used = modelrace("models", sim=sim_env, cwd=repo, **env)
    assert used.stderr == "" and "sim:flaky" in used.stdout
