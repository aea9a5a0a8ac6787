"""Which project-local config files the user has trusted, by exact content (as direnv and mise).

A `modelrace.toml` in the current directory can name endpoints and the variables holding their
keys, so a cloned repository could send a key anywhere. Such a file is used only once the user
ran `modelrace trust FILE` on that exact content: the store maps the file's resolved path to the
SHA-256 of its bytes, and any edit makes it untrusted again.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from enum import StrEnum
from pathlib import Path

from providers.textfile import TextFileError, read_text_file

STORE_NAME = "trusted.json"


class TrustState(StrEnum):
    TRUSTED = "trusted"
    CHANGED = "changed since it was trusted"
    UNKNOWN = "not trusted"


def store_path() -> Path:
    """`trusted.json` in the user data dir, next to the history."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("modelrace")) / STORE_NAME


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def trust_state(path: Path, text: str) -> TrustState:
    """Whether `text`, read from `path`, is exactly what the user trusted at that path."""
    recorded = _load().get(str(path.resolve()))
    if recorded is None:
        return TrustState.UNKNOWN
    return TrustState.TRUSTED if recorded == digest(text) else TrustState.CHANGED


def trust_file(path: Path) -> str:
    """Record `path`'s current content as trusted; returns its SHA-256.

    Raises FileNotFoundError or TextFileError when the file cannot be read.
    """
    text = read_text_file(path)
    value = digest(text)
    store = _load()
    store[str(path.resolve())] = value
    _save(store)
    return value


def _load() -> dict[str, str]:
    try:
        data = json.loads(read_text_file(store_path()))
    except (FileNotFoundError, TextFileError, ValueError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict):
        return {}
    return {k: v for k, v in files.items() if isinstance(k, str) and isinstance(v, str)}


def _save(store: dict[str, str]) -> None:
    """Write a new file and rename it over the old one: a crash never leaves half a store."""
    path = store_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".trusted-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"version": 1, "files": store}, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
