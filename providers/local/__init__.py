"""Serve local GGUF models through llama.cpp's own OpenAI-compatible HTTP server.

Each model runs in a child process (`providers.local.serve`), so generation never holds this
process's GIL. No SDK is imported here: the `local:` adapter talks to the URL with `openai`.
"""

from .paths import LocalModelError, engine_available, require_engine, resolve_model_path
from .server import LocalServer, ensure_local_server, get_local_server, shutdown_local_servers

__all__ = [
    "LocalModelError",
    "LocalServer",
    "engine_available",
    "ensure_local_server",
    "get_local_server",
    "require_engine",
    "resolve_model_path",
    "shutdown_local_servers",
]
