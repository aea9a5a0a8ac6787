"""OpenAI, and every OpenAI-compatible server (named endpoints, the simulator, llama.cpp)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any, ClassVar

from providers.adapters import stainless
from providers.base import Adapter, AsyncPieces, Done, Piece, Pieces, Tokens
from providers.environment import get_key
from providers.failures import Classified
from providers.request import Request


class OpenAIAdapter(Adapter):
    warmup = "openai"
    # OpenAI's own API refuses max_tokens for reasoning models; compatible servers know it.
    max_tokens_field: ClassVar[str] = "max_completion_tokens"

    def base_url(self) -> str | None:
        """None lets the SDK apply OPENAI_BASE_URL or its default."""
        return self.spec.endpoint.base_url if self.spec.endpoint else None

    def api_key(self) -> str:
        endpoint = self.spec.endpoint
        if endpoint is None:
            return super().api_key()
        # A keyless local server still needs a non-empty string for the SDK.
        return (get_key(endpoint.api_key_env) if endpoint.api_key_env else None) or "none"

    def client_identity(self) -> tuple[str | None, str]:
        return self.base_url() or os.environ.get("OPENAI_BASE_URL"), self.api_key()

    def problem(self) -> str | None:
        endpoint = self.spec.endpoint
        if endpoint is not None and endpoint.api_key_env and not get_key(endpoint.api_key_env):
            return f"{endpoint.api_key_env} is not set; export it or add it to .env"
        return None if endpoint is not None else super().problem()

    def classify(self, exc: BaseException) -> Classified | None:
        openai = sys.modules.get("openai")
        return None if openai is None else stainless.classify(openai, exc)

    def make_sync_client(self, timeout: float | None) -> Any:
        import httpx2
        import openai

        from providers.adapters.drain import DrainedAtDone
        from providers.clients import limits, sync_hooks
        from providers.tls import httpx2_context
        from providers.watchdog import http_hooks

        transport = DrainedAtDone(
            httpx2.HTTPTransport(verify=httpx2_context(), limits=limits(httpx2))
        )
        http = openai.DefaultHttpxClient(
            event_hooks=sync_hooks(http_hooks()), verify=httpx2_context(), transport=transport
        )
        return openai.OpenAI(**self._client_args(timeout), http_client=http)

    def make_async_client(self, timeout: float | None) -> Any:
        import httpx2
        import openai

        from providers.clients import limits
        from providers.tls import httpx2_context

        http = openai.DefaultAsyncHttpxClient(verify=httpx2_context(), limits=limits(httpx2))
        return openai.AsyncOpenAI(**self._client_args(timeout), http_client=http)

    def _client_args(self, timeout: float | None) -> dict[str, Any]:
        # No retries: a race shows failures as they happen instead of hiding them in retries.
        return {
            "api_key": self.api_key(),
            "base_url": self.base_url(),
            "max_retries": 0,
            "timeout": timeout if timeout is not None else stainless.DEFAULT_TIMEOUT_S,
        }

    def _params(self, request: Request) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.spec.model,
            "messages": request.messages(),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.max_tokens is not None:
            params[self.max_tokens_field] = request.max_tokens
        return params

    def pieces_sync(self, client: Any, request: Request) -> Pieces:
        state = _StreamState()
        with client.chat.completions.create(**self._params(request)) as stream:
            for chunk in stream:
                yield from state.read(chunk)
        yield from state.end()

    async def pieces_async(self, client: Any, request: Request) -> AsyncPieces:
        state = _StreamState()
        async with await client.chat.completions.create(**self._params(request)) as stream:
            async for chunk in stream:
                for piece in state.read(chunk):
                    yield piece
        for piece in state.end():
            yield piece


class _StreamState:
    """The finish reason comes before the usage chunk, so the end is only known at the end."""

    def __init__(self) -> None:
        self.reason: str | None = None

    def read(self, chunk: Any) -> Iterator[Piece]:
        for choice in chunk.choices or ():
            delta = choice.delta
            if delta is not None and delta.content:
                yield delta.content
            if choice.finish_reason:
                self.reason = choice.finish_reason
        usage = chunk.usage
        if usage is not None:
            yield Tokens(usage.prompt_tokens, usage.completion_tokens)

    def end(self) -> Iterator[Piece]:
        if self.reason is not None:
            yield Done(self.reason)


class CompatibleAdapter(OpenAIAdapter):
    """A named endpoint from the config file."""

    max_tokens_field = "max_tokens"
