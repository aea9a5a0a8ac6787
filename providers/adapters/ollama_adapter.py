"""Ollama's native chat API through the `ollama` package."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import aclosing, closing
from typing import Any

from providers.base import Adapter, AsyncPieces, Done, Piece, Pieces, Tokens, error_message
from providers.failures import Classified, FailureKind, http_failure
from providers.request import Request

DEFAULT_HOST = "http://127.0.0.1:11434"


class OllamaAdapter(Adapter):
    warmup = "ollama"

    def host(self) -> str:
        host = os.environ.get("OLLAMA_HOST", "").strip() or DEFAULT_HOST
        return host if "://" in host else f"http://{host}"

    def problem(self) -> str | None:
        """Ollama needs no key, only a server; a quick look tells whether it is up."""
        try:
            with urllib.request.urlopen(f"{self.host()}/api/version", timeout=1.0):
                return None
        except urllib.error.HTTPError:
            return None  # something answers there: the race will say what it thinks of us
        except Exception:
            return f"no Ollama server answers at {self.host()} (set OLLAMA_HOST?)"

    def client_identity(self) -> tuple[str | None, str]:
        # The SDK sends OLLAMA_API_KEY, when set, as a bearer token.
        return self.host(), os.environ.get("OLLAMA_API_KEY", "")

    def classify(self, exc: BaseException) -> Classified | None:
        ollama = sys.modules.get("ollama")
        if ollama is None or not isinstance(exc, ollama.ResponseError):
            return None
        # `error` is the server's text, or a dict when its body nests one ({"message": …}).
        detail = error_message({"error": exc.error}) or str(exc.error)
        if exc.status_code > 0:
            return http_failure(exc.status_code, detail)
        return Classified(FailureKind.OTHER, None, detail)  # an error line inside the stream

    def make_sync_client(self, timeout: float | None) -> Any:
        import httpx
        import ollama

        from providers.clients import limits
        from providers.tls import httpx_context
        from providers.watchdog import http_hooks

        return ollama.Client(
            host=self.host(),
            timeout=timeout,
            event_hooks=http_hooks(),
            verify=httpx_context(),
            limits=limits(httpx),
        )

    def make_async_client(self, timeout: float | None) -> Any:
        import httpx
        import ollama

        from providers.clients import limits
        from providers.tls import httpx_context

        return ollama.AsyncClient(
            host=self.host(), timeout=timeout, verify=httpx_context(), limits=limits(httpx)
        )

    def _params(self, request: Request) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if request.temperature is not None:
            options["temperature"] = request.temperature
        if request.max_tokens is not None:
            options["num_predict"] = request.max_tokens
        return {
            "model": self.spec.model,
            "messages": request.messages(),
            "stream": True,
            "options": options or None,
        }

    def pieces_sync(self, client: Any, request: Request) -> Pieces:
        with closing(client.chat(**self._params(request))) as parts:
            for part in parts:
                yield from _read(part)

    async def pieces_async(self, client: Any, request: Request) -> AsyncPieces:
        async with aclosing(await client.chat(**self._params(request))) as parts:
            async for part in parts:
                for piece in _read(part):
                    yield piece


def _read(part: Any) -> Iterator[Piece]:
    message = part.message
    if message is not None and message.content:
        yield message.content
    if part.done:
        yield Tokens(part.prompt_eval_count, part.eval_count)
        yield Done(part.done_reason)
