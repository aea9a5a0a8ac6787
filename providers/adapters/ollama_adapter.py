"""Ollama's native chat API through the `ollama` package."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing, closing
from typing import Any

from providers.base import Adapter, Done, Piece, Tokens
from providers.request import Request

DEFAULT_HOST = "http://127.0.0.1:11434"


class OllamaAdapter(Adapter):
    provider = "ollama"
    warmup = "ollama"

    def host(self) -> str:
        host = os.environ.get("OLLAMA_HOST", "").strip() or DEFAULT_HOST
        return host if "://" in host else f"http://{host}"

    def problem(self) -> str | None:
        """Ollama needs no key, only a server; a quick look tells whether it is up."""
        try:
            with urllib.request.urlopen(f"{self.host()}/api/version", timeout=1.0):
                return None
        except Exception:
            return f"no Ollama server answers at {self.host()} (set OLLAMA_HOST?)"

    def make_sync_client(self, timeout: float | None) -> Any:
        import ollama

        return ollama.Client(host=self.host(), timeout=timeout)

    def make_async_client(self, timeout: float | None) -> Any:
        import ollama

        return ollama.AsyncClient(host=self.host(), timeout=timeout)

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

    def pieces_sync(self, client: Any, request: Request) -> Iterator[Piece]:
        with closing(client.chat(**self._params(request))) as parts:
            for part in parts:
                yield from _read(part)

    async def pieces_async(self, client: Any, request: Request) -> AsyncIterator[Piece]:
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
