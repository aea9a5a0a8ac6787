"""Spec parsing and config loading, the good cases and the bad ones."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from providers import ConfigError, SpecError, load_config, make_adapter, parse_spec
from providers.adapters.openai_adapter import CompatibleAdapter
from providers.defaults import OFFLINE_DEFAULT, default_specs
from providers.trust import trust_file


def test_everything_after_the_first_colon_is_the_model():
    spec = parse_spec("ollama:qwen3:8b")
    assert (spec.provider, spec.model, str(spec)) == ("ollama", "qwen3:8b", "ollama:qwen3:8b")
    assert parse_spec("  OpenAI:gpt-5-mini ").provider == "openai"


@pytest.mark.parametrize("text", ["gpt-5-mini", ":gpt", "openai:", "", "open ai:x", "1x:y"])
def test_malformed_specs_are_refused_in_one_line(text: str):
    with pytest.raises(SpecError, match="malformed model spec") as info:
        parse_spec(text)
    assert "\n" not in str(info.value)


def test_unknown_provider_lists_the_known_ones():
    with pytest.raises(SpecError, match=r"unknown provider 'mistral'.*anthropic, gemini"):
        parse_spec("mistral:large")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "modelrace.toml"
    path.write_text(text)
    return path


def test_named_endpoints_become_specs(tmp_path: Path):
    config = load_config(
        write(
            tmp_path,
            'models = ["vllm:llama3", "sim:fast"]\n'
            '[endpoints.vllm]\nbase_url = "http://127.0.0.1:8000/v1/"\napi_key_env = "VLLM_KEY"\n',
        )
    )
    assert config.models == ("vllm:llama3", "sim:fast")
    spec = parse_spec("vllm:llama3", config)
    assert spec.endpoint is not None and spec.endpoint.base_url == "http://127.0.0.1:8000/v1"
    adapter = make_adapter(spec)
    assert isinstance(adapter, CompatibleAdapter)
    assert adapter.problem() == "VLLM_KEY is not set; export it or add it to .env"
    assert default_specs(config) == ["vllm:llama3", "sim:fast"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("models = [", "not valid TOML"),
        ("models = 3", "'models' must be a list"),
        ("colour = 1", "unknown key 'colour'"),
        ('[endpoints.openai]\nbase_url = "http://x"', "built-in provider"),
        ("[endpoints.x]\nbase_url = 5", "base_url must be an http"),
        ('[endpoints.x]\nbase_url = "http://x"\ntoken = "s"', "unknown key 'token'"),
        ("keep_runs = 0", "'keep_runs' must be a whole number"),
        ('keep_runs = "all"', "'keep_runs' must be a whole number"),
    ],
)
def test_bad_config_files_name_the_file_and_reason(tmp_path: Path, text: str, reason: str):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value) and reason in str(info.value)


def test_unreadable_config_file(tmp_path: Path):
    # A directory where the file should be: unreadable even for root.
    path = tmp_path / "modelrace.toml"
    path.mkdir()
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(path)


def test_config_env_var_and_cwd_lookup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("MODELRACE_CONFIG")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert load_config().models == ()
    path = write(tmp_path, 'models = ["sim:slow"]')
    assert load_config().models == ()  # not trusted yet: tests/test_trust.py
    trust_file(path)
    assert load_config().models == ("sim:slow",)


def test_offline_default_set_grows_with_keys(monkeypatch: pytest.MonkeyPatch):
    from providers.config import Config

    assert default_specs(Config()) == list(OFFLINE_DEFAULT)
    monkeypatch.setenv("GOOGLE_API_KEY", "k")
    assert default_specs(Config())[-1] == "gemini:gemini-2.5-flash"


def test_dotenv_fills_missing_variables_without_overriding(tmp_path: Path):
    (tmp_path / ".env").write_text("OPENAI_API_KEY=from-dotenv\nANTHROPIC_API_KEY=from-dotenv\n")
    code = (
        "import os; from providers.environment import get_key; "
        "print(get_key('OPENAI_API_KEY'), get_key('ANTHROPIC_API_KEY'))"
    )
    env = {"PATH": "/usr/bin:/bin", "ANTHROPIC_API_KEY": "from-shell"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.stdout.split() == ["from-dotenv", "from-shell"], out.stderr

    env["MODELRACE_NO_DOTENV"] = "1"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.stdout.split() == ["None", "from-shell"], out.stderr


def test_importing_providers_imports_no_textual_and_no_sdk():
    code = (
        "import sys, providers, providers.race, providers.registry, providers.sim; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('textual', 'openai', 'anthropic', 'google', 'ollama', 'rich')]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
