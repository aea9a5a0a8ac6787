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

        from providers.clients import limits, sync_hooks
        from providers.tls import httpx_context
        from providers.watchdog import http_hooks

        return ollama.Client(
            host=self.host(),
            timeout=timeout,
            event_hooks=sync_hooks(http_hooks()),
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

    # The end is passed on once the body has ended: a consumer that stops at the end marker
    # must not close the response unread, which would close its connection too.

    def pieces_sync(self, client: Any, request: Request) -> Pieces:
        last = None
        with closing(client.chat(**self._params(request))) as parts:
            for part in parts:
                yield from _text(part)
                last = part if part.done else last
        yield from _end(last)

    async def pieces_async(self, client: Any, request: Request) -> AsyncPieces:
        last = None
        async with aclosing(await client.chat(**self._params(request))) as parts:
            async for part in parts:
                for piece in _text(part):
                    yield piece
                last = part if part.done else last
        for piece in _end(last):
            yield piece


def _text(part: Any) -> Iterator[Piece]:
    message = part.message
    if message is not None and message.content:
        yield message.content


def _end(last: Any) -> Iterator[Piece]:
    if last is not None:
        yield Tokens(last.prompt_eval_count, last.eval_count)
        yield Done(last.done_reason)
