"""The user's config file: a default model list and named OpenAI-compatible endpoints.

    models = ["sim:fast", "vllm:llama3"]

    [endpoints.vllm]
    base_url = "http://127.0.0.1:8000/v1"
    api_key_env = "VLLM_API_KEY"     # optional; the key itself never goes in the file

    keep_runs = 1000                   # optional: the run store keeps the newest N races

Looked up in `$MODELRACE_CONFIG`, then `./modelrace.toml`, then the user config dir. The file
in the current directory is used only once the user trusted its exact content
(`modelrace trust`, see providers/trust.py): a repository must not be able to send a key to a
server of its choosing. The user's own file and `$MODELRACE_CONFIG` are the user's choice.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from providers.catalog import PROVIDERS
from providers.echo import quote
from providers.environment import register_secret, set_by_dotenv
from providers.textfile import TextFileError, read_text_file

LOCAL_CONFIG = "modelrace.toml"

BUILTIN_PROVIDERS = tuple(p.name for p in PROVIDERS)


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
    # Set when a project-local file was skipped: one line for stderr, naming the command.
    notice: str | None = None
    keep_runs: int | None = None


def user_config_path() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("modelrace")) / LOCAL_CONFIG


def load_config(path: Path | None = None) -> Config:
    """The config in force; no file at all is an empty config.

    An explicit `path` or `$MODELRACE_CONFIG` must exist. `./modelrace.toml` wins over the user
    config only when trusted; otherwise it is skipped and `notice` says how to trust it.
    """
    explicit = os.environ.get("MODELRACE_CONFIG")
    if path is None and explicit:
        path = Path(explicit).expanduser()
        if set_by_dotenv("MODELRACE_CONFIG"):
            # A `.env` is project-local too: the file it names needs trust like ./modelrace.toml.
            return _trusted_or_user(path)
    if path is not None:
        return _parse(path, _read(path))
    return _trusted_or_user(Path.cwd() / LOCAL_CONFIG)


def _trusted_or_user(local: Path) -> Config:
    notice = None
    if local.exists():
        text, notice = _trusted_text(local)
        if text is not None:
            return _parse(local, text)
    user = user_config_path()
    config = _parse(user, _read(user)) if user.exists() else Config()
    return replace(config, notice=notice) if notice else config


def _trusted_text(local: Path) -> tuple[str | None, str | None]:
    """(the text, None) when trusted as it is now, else (None, why it is ignored).

    The text is read once: what is checked is what gets parsed.
    """
    from providers.trust import TrustState, trust_state

    try:
        text = read_text_file(local)
        state = trust_state(local, text)
    except (OSError, TextFileError):
        state = TrustState.UNKNOWN
    if state is TrustState.TRUSTED:
        return text, None
    command = (
        "modelrace trust" if local == Path.cwd() / LOCAL_CONFIG else f"modelrace trust {local}"
    )
    return None, f"ignoring {local} ({state}); run `{command}` to use it"


def _read(path: Path) -> str:
    try:
        return read_text_file(path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except TextFileError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc})") from None


def _parse(path: Path, text: str) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid TOML (nested too deeply)") from None

    unknown = set(data) - {"models", "endpoints", "keep_runs"}
    if unknown:
        raise ConfigError(
            f"{path}: unknown key {quote(sorted(unknown)[0])}"
            " (expected models, endpoints, keep_runs)"
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
    where = f"{path}: endpoint {quote(name)}"
    if name in BUILTIN_PROVIDERS:
        raise ConfigError(f"{where}: the name is a built-in provider; choose another")
    if not name.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"{where}: names use letters, digits, '-' and '_'")
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table")
    unknown = set(table) - {"base_url", "api_key_env"}
    if unknown:
        raise ConfigError(f"{where}: unknown key {quote(sorted(unknown)[0])}")
    base_url = table.get("base_url")
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}: base_url must be an http(s) URL")
    key_env = table.get("api_key_env")
    if key_env is not None and (not isinstance(key_env, str) or not key_env):
        raise ConfigError(f"{where}: api_key_env must be the name of an environment variable")
    if key_env:
        register_secret(key_env)
    return Endpoint(name=name, base_url=base_url.rstrip("/"), api_key_env=key_env)
