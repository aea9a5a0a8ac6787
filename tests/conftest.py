"""Shared fixtures: one simulator per test session, on a thread of its own, over loopback."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator

import pytest

from providers.catalog import PROVIDERS
from providers.environment import KEY_VARIABLES, loopback_no_proxy
from providers.sim import SimServer

BASE_URL_VARIABLES = {p.base_url_variable: p.wire for p in PROVIDERS if p.base_url_variable}


@pytest.fixture(scope="session")
def sim_url() -> Iterator[str]:
    loopback_no_proxy()
    server = SimServer()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def module_sim() -> Iterator[SimServer]:
    """A simulator for one module alone (its connections are that module's to count),
    named by MODELRACE_SIM_URL while the module runs."""
    server = SimServer()
    url = server.start()
    old = os.environ.get("MODELRACE_SIM_URL")
    os.environ["MODELRACE_SIM_URL"] = url
    try:
        yield server
    finally:
        if old is None:
            os.environ.pop("MODELRACE_SIM_URL", None)
        else:
            os.environ["MODELRACE_SIM_URL"] = old
        server.stop()


@pytest.fixture
def sim_env(sim_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every SDK pointed at the simulator through its own environment variables."""
    monkeypatch.setenv("MODELRACE_SIM_URL", sim_url)
    for var, wire in BASE_URL_VARIABLES.items():
        # The simulator serves the OpenAI wire under /v1, as OpenAI does.
        monkeypatch.setenv(var, sim_url + "/v1" if wire == "openai" else sim_url)
    for var in KEY_VARIABLES:
        monkeypatch.setenv(var, f"test-key-{var.lower()}")
    return sim_url


@pytest.fixture(autouse=True)
def _no_user_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    """Tests never read the developer's real keys, .env or config file."""
    for var in (*KEY_VARIABLES, *BASE_URL_VARIABLES):
        monkeypatch.delenv(var, raising=False)
    empty = tmp_path_factory.mktemp("cfg") / "modelrace.toml"
    empty.write_text("")
    monkeypatch.setenv("MODELRACE_CONFIG", str(empty))
    # Races the tests run are saved here, never in the developer's own run store.
    monkeypatch.setenv("MODELRACE_DB", str(empty.parent / "modelrace.db"))
    # Inherited by the `modelrace` processes tests start, too: none reads a .env by accident.
    monkeypatch.setenv("MODELRACE_NO_DOTENV", "1")
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture(autouse=True)
def _restore_gc() -> Iterator[None]:
    """The app and headless runs tune the process's GC (freeze, thresholds): each test
    gives the next one the defaults back."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)
