"""The user's config file: a default model list and named OpenAI-compatible endpoints.

    models = ["sim:fast", "vllm:llama3"]

    [endpoints.vllm]
    base_url = "http://127.0.0.1:8000/v1"
    api_key_env = "VLLM_API_KEY"     # optional; the key itself never goes in the file

    keep_runs = 1000                   # optional: the run store keeps the newest N races

Looked up in `$MODELRACE_CONFIG`, then `./modelrace.toml`, then the user config dir.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from providers.environment import register_secret

BUILTIN_PROVIDERS = ("openai", "gemini", "ollama", "anthropic", "sim", "local")


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the reason."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An OpenAI-compatible server under its own name (vLLM, llama.cpp, LM Studio, …)."""

    name: str
    base_url: str
    api_key_env: str | None = None


@dataclass(frozen=True, slots=True)
class Config:
    path: Path | None = None
    models: tuple[str, ...] = ()
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    keep_runs: int | None = None


def config_paths() -> list[Path]:
    """Where a config file is looked for, first match wins."""
    explicit = os.environ.get("MODELRACE_CONFIG")
    if explicit:
        return [Path(explicit).expanduser()]
    from platformdirs import user_config_dir

    return [Path.cwd() / "modelrace.toml", Path(user_config_dir("modelrace")) / "modelrace.toml"]


def load_config(path: Path | None = None) -> Config:
    """Read the first config file that exists; no file at all is an empty config."""
    candidates = [path] if path is not None else config_paths()
    for candidate in candidates:
        if candidate.exists() or path is not None or os.environ.get("MODELRACE_CONFIG"):
            return _parse(candidate)
    return Config()


def _parse(path: Path) -> Config:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.__class__.__name__})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None

    unknown = set(data) - {"models", "endpoints", "keep_runs"}
    if unknown:
        raise ConfigError(
            f"{path}: unknown key {sorted(unknown)[0]!r} (expected models, endpoints, keep_runs)"
        )
    keep = data.get("keep_runs")
    if keep is not None and (not isinstance(keep, int) or isinstance(keep, bool) or keep < 1):
        raise ConfigError(f"{path}: 'keep_runs' must be a whole number of races, at least 1")
    models = data.get("models", [])
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        raise ConfigError(f"{path}: 'models' must be a list of spec strings")

    endpoints: dict[str, Endpoint] = {}
    raw_endpoints = data.get("endpoints", {})
    if not isinstance(raw_endpoints, dict):
        raise ConfigError(f"{path}: 'endpoints' must be a table of tables")
    for name, table in raw_endpoints.items():
        endpoints[name] = _endpoint(path, name, table)
    return Config(path=path, models=tuple(models), endpoints=endpoints, keep_runs=keep)


def _endpoint(path: Path, name: str, table: object) -> Endpoint:
    where = f"{path}: endpoint {name!r}"
    if name in BUILTIN_PROVIDERS:
        raise ConfigError(f"{where}: the name is a built-in provider; choose another")
    if not name.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"{where}: names use letters, digits, '-' and '_'")
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table")
    unknown = set(table) - {"base_url", "api_key_env"}
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    base_url = table.get("base_url")
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}: base_url must be an http(s) URL")
    key_env = table.get("api_key_env")
    if key_env is not None and (not isinstance(key_env, str) or not key_env):
        raise ConfigError(f"{where}: api_key_env must be the name of an environment variable")
    if key_env:
        register_secret(key_env)
    return Endpoint(name=name, base_url=base_url.rstrip("/"), api_key_env=key_env)
