"""Environment and secrets: `.env` loading, key lookup, and scrubbing keys out of text.

Keys live only in the environment and inside SDK clients. `redact` is the one scrubbing rule:
everything that leaves the program (errors, text reports, panels, history, exports) passes
through it, so a key an SDK echoes back or a pipeline step fetches never reaches a screen.
"""

from __future__ import annotations

import io
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from providers.catalog import PROVIDERS

# Variables whose values are secrets wherever they appear.
KEY_VARIABLES: tuple[str, ...] = tuple(v for p in PROVIDERS for v in p.key_variables)

_KEY_SHAPES = re.compile(
    r"(sk-ant-[A-Za-z0-9_\-]{6,}|sk-[A-Za-z0-9_\-]{12,}|AIza[0-9A-Za-z_\-]{20,}|"
    r"(?i:bearer)\s+[A-Za-z0-9._\-]{12,})"
)
# Any variable named like these holds a secret too (GITHUB_TOKEN, VLLM_API_KEY, …).
_SECRET_NAME = re.compile(r"(_API_KEY|_TOKEN|_SECRET|_PASSWORD)$")
_extra_secret_names: set[str] = set()
_from_dotenv: set[str] = set()  # the variables `.env` set (the shell had not)
_loaded = False
_lock = threading.Lock()


class EnvFileError(ValueError):
    """A `.env` file that cannot be read; the message names the file and the reason."""


def dotenv_disabled() -> bool:
    """`MODELRACE_NO_DOTENV=1`: read no `.env` at all (CI, tests, a directory you distrust)."""
    return os.environ.get("MODELRACE_NO_DOTENV", "") not in ("", "0")


def load_env() -> None:
    """Load `./.env` once without overriding variables that are already set.

    The file is read by us (a regular UTF-8 file, capped) and only then parsed by python-dotenv,
    so a bad file is one EnvFileError line instead of a traceback or a hang.
    """
    global _loaded
    with _lock:
        if _loaded or dotenv_disabled():
            return
        _loaded = True
        from dotenv import dotenv_values, find_dotenv

        from providers.textfile import TextFileError, read_text_file

        path = find_dotenv(usecwd=True)
        if not path:
            return
        try:
            text = read_text_file(Path(path))
        except FileNotFoundError:
            return
        except TextFileError as exc:
            raise EnvFileError(f"{path}: cannot read .env file ({exc})") from None
        for name, value in dotenv_values(stream=io.StringIO(text)).items():
            if value is not None and name not in os.environ:
                os.environ[name] = value
                _from_dotenv.add(name)


def set_by_dotenv(name: str) -> bool:
    """True when `.env`, not the user's shell, gave the variable its value."""
    return name in _from_dotenv


def register_secret(name: str) -> None:
    """Mark another variable (an endpoint's key variable) as secret for `redact`."""
    _extra_secret_names.add(name)


def get_key(*names: str) -> str | None:
    """The first non-empty value among `names`, after `.env` is loaded."""
    load_env()
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def secret_values() -> list[str]:
    """The values of every variable that holds a key, longest first."""
    known = {os.environ.get(name, "").strip() for name in (*KEY_VARIABLES, *_extra_secret_names)}
    values = {v for v in known if len(v) >= 4}
    # Only guessed from the name: a short value ("true", "1234") would scrub ordinary words.
    values.update(
        v.strip() for n, v in os.environ.items() if _SECRET_NAME.search(n.upper()) and len(v) >= 12
    )
    return sorted(values, key=len, reverse=True)


# Set inside `secrets_read_once()`: the secret values, read once for many `redact` calls.
_read_once: ContextVar[list[str] | None] = ContextVar("modelrace_secrets", default=None)


@contextmanager
def secrets_read_once() -> Iterator[None]:
    """Within the block `redact` reads the environment once, not per call: a stored race
    scrubs thousands of fields, and walking the environment each time cost 6 ms a save."""
    token = _read_once.set(secret_values())
    try:
        yield
    finally:
        _read_once.reset(token)


def redact(text: str, secrets: list[str] | None = None) -> str:
    """Replace every known key value, and anything shaped like a key, with `***`.

    `secrets` (from `secret_values()`) spares a caller that redacts many small pieces, such
    as a panel each poll, a walk through the environment per call.
    """
    known = _read_once.get() if secrets is None else secrets
    for value in secret_values() if known is None else known:
        if value in text:
            text = text.replace(value, "***")
    return _KEY_SHAPES.sub("***", text)


_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
# A key shape's start ("AIza" and 19 more) is this short until it is long enough to match.
_SHAPE_REACH = 32


def redaction_settled(text: str, secrets: list[str]) -> int:
    """How many leading characters of redacted `text` no text appended to it can draw into a
    redaction: a panel redacts only the rest again as more of a line arrives."""
    end = len(text)
    settled = end - max(_SHAPE_REACH, max(map(len, secrets), default=0))
    j = end
    while j > 0 and end - j < 11 and text[j - 1] in _KEY_CHARS:
        j -= 1
    k = j
    while k > 0 and text[k - 1].isspace():
        k -= 1
    if k < j and text[k - 6 : k].lower() == "bearer":  # `Bearer ` + the start of a token
        settled = min(settled, k - 6)
    return max(0, settled)


def one_line(text: str, limit: int = 300) -> str:
    """A reason fit for one status line: whitespace folded, keys scrubbed, length capped."""
    flat = " ".join(redact(str(text)).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def loopback_no_proxy() -> None:
    """Keep loopback traffic away from any proxy the user has configured.

    All four SDKs send even 127.0.0.1 through HTTP_PROXY/ALL_PROXY unless NO_PROXY covers it,
    which would break the simulator and the local model.
    """
    for var in ("NO_PROXY", "no_proxy"):
        parts = [p for p in os.environ.get(var, "").split(",") if p]
        for host in ("127.0.0.1", "localhost", "::1"):
            if host not in parts:
                parts.append(host)
        os.environ[var] = ",".join(parts)
