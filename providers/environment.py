"""Environment and secrets: `.env` loading, key lookup, and scrubbing keys out of text.

Keys live only in the environment and inside SDK clients; anything we show (errors, logs,
exports) passes through `redact` first so a key an SDK echoes back never reaches a screen.
"""

from __future__ import annotations

import os
import re
import threading

from providers.catalog import PROVIDERS

# Variables whose values are secrets wherever they appear.
KEY_VARIABLES: tuple[str, ...] = tuple(v for p in PROVIDERS for v in p.key_variables)

_KEY_SHAPES = re.compile(
    r"(sk-ant-[A-Za-z0-9_\-]{6,}|sk-[A-Za-z0-9_\-]{12,}|AIza[0-9A-Za-z_\-]{20,}|"
    r"(?i:bearer)\s+[A-Za-z0-9._\-]{12,})"
)
_extra_secret_names: set[str] = set()
_loaded = False
_lock = threading.Lock()


def load_env() -> None:
    """Load `./.env` once without overriding variables that are already set."""
    global _loaded
    with _lock:
        if _loaded:
            return
        _loaded = True
        from dotenv import find_dotenv, load_dotenv

        path = find_dotenv(usecwd=True)
        if path:
            load_dotenv(path, override=False)


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


def redact(text: str) -> str:
    """Replace every known key value, and anything shaped like a key, with `***`."""
    for name in (*KEY_VARIABLES, *_extra_secret_names):
        value = os.environ.get(name, "").strip()
        if len(value) >= 4:
            text = text.replace(value, "***")
    return _KEY_SHAPES.sub("***", text)


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
