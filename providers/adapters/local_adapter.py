"""`local:smollm2` or `local:/path/model.gguf`: llama.cpp's server, spoken to as OpenAI.

The server starts on first use (in its own process, while clients are prepared, before any
clock starts) and stops when the program exits.
"""

from __future__ import annotations

from providers.adapters.openai_adapter import OpenAIAdapter


class LocalAdapter(OpenAIAdapter):
    max_tokens_field = "max_tokens"
    preparing_note = "loading the model into llama.cpp…"

    def api_key(self) -> str:
        return "local"

    def spec_problem(self) -> str | None:
        """The name or the file is checked (a stat and four bytes), never llama.cpp started:
        `local:nope` is then bad usage, like `sim:nope`, instead of a failed race."""
        from providers.local import LocalModelError, resolve_model_path

        try:
            resolve_model_path(self.spec.model)
        except LocalModelError as exc:
            return str(exc)
        return None

    def problem(self) -> str | None:
        from providers.local import LocalModelError, require_engine

        spec_problem = self.spec_problem()
        if spec_problem:
            return spec_problem
        try:
            require_engine()
        except LocalModelError as exc:
            return str(exc)
        return None

    def base_url(self) -> str | None:
        from providers.local import ensure_local_server, resolve_model_path

        return ensure_local_server(resolve_model_path(self.spec.model))
