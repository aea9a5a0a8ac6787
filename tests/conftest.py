"""Shared fixtures: one simulator per test session, on a thread of its own, over loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from providers.environment import loopback_no_proxy
from providers.sim import SimServer

KEY_VARS = ("OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "ANTHROPIC_API_KEY")


@pytest.fixture(scope="session")
def sim_url() -> Iterator[str]:
    loopback_no_proxy()
    with SimServer() as server:
        yield server.url


@pytest.fixture
def sim_env(sim_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every SDK pointed at the simulator through its own environment variables."""
    monkeypatch.setenv("MODELRACE_SIM_URL", sim_url)
    monkeypatch.setenv("OPENAI_BASE_URL", sim_url + "/v1")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", sim_url)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", sim_url)
    monkeypatch.setenv("OLLAMA_HOST", sim_url)
    for var in KEY_VARS:
        monkeypatch.setenv(var, f"test-key-{var.lower()}")
    return sim_url


@pytest.fixture(autouse=True)
def _no_user_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    """Tests never read the developer's real keys, .env or config file."""
    for var in (*KEY_VARS, "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "GOOGLE_GEMINI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    empty = tmp_path_factory.mktemp("cfg") / "modelrace.toml"
    empty.write_text("")
    monkeypatch.setenv("MODELRACE_CONFIG", str(empty))
    # Races the tests run are saved here, never in the developer's own run store.
    monkeypatch.setenv("MODELRACE_DB", str(empty.parent / "modelrace.db"))
    monkeypatch.setattr("providers.environment._loaded", True)
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
