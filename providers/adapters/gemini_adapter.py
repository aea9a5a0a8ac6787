"""Gemini through google-genai (`client.models` sync, `client.aio.models` async)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import aclosing, closing
from typing import Any

from providers.base import Adapter, AsyncPieces, Done, Piece, Pieces, Tokens
from providers.failures import Classified, FailureKind, http_failure
from providers.request import Request


class GeminiAdapter(Adapter):
    warmup = "gemini"

    def make_sync_client(self, timeout: float | None) -> Any:
        from providers.clients import sync_hooks
        from providers.watchdog import http_hooks

        return self._client(timeout, {"event_hooks": sync_hooks(http_hooks())})

    def make_async_client(self, timeout: float | None) -> Any:
        # A client of its own per event loop; kept referenced, since google-genai closes
        # clients that nothing holds.
        return self._client(timeout)

    def _client(self, timeout: float | None, sync_args: dict[str, Any] | None = None) -> Any:
        import httpx2
        from google import genai
        from google.genai import types

        from providers.clients import limits
        from providers.tls import aiohttp_context, httpx2_context

        # google-genai gives its async httpx2 client the sync one's TLS context too; its
        # aiohttp side (and websockets) would build two contexts of their own per client.
        options = types.HttpOptions(
            timeout=int(timeout * 1000) if timeout else None,
            client_args={**(sync_args or {}), "verify": httpx2_context(), "limits": limits(httpx2)},
            async_client_args={"ssl": aiohttp_context(), "limits": limits(httpx2)},
        )
        client = genai.Client(api_key=self.api_key(), http_options=options)
        # Build the lazily created model resources now, off the loop, before the clock.
        _ = client.models, client.aio.models
        return client

    def classify(self, exc: BaseException) -> Classified | None:
        errors = sys.modules.get("google.genai.errors")
        if errors is not None and isinstance(exc, errors.APIError):
            return http_failure(exc.code, exc.message or exc.status)
        # Its async side uses aiohttp when that is installed.
        aiohttp = sys.modules.get("aiohttp")
        if aiohttp is not None:
            if isinstance(exc, aiohttp.ServerTimeoutError):
                return Classified(FailureKind.TIMEOUT)
            if isinstance(exc, aiohttp.ClientPayloadError):
                return Classified(FailureKind.DROPPED)
            if isinstance(exc, aiohttp.ClientConnectionError):
                return Classified(FailureKind.CONNECTION)
        return None

    async def close_async_client(self, client: Any) -> None:
        await client.aio.aclose()

    def close_sync_client(self, client: Any) -> None:
        client.close()

    def _config(self, request: Request) -> Any:
        from google.genai import types

        return types.GenerateContentConfig(
            system_instruction=request.system or None,
            temperature=request.temperature,
            max_output_tokens=request.max_tokens,
            # Off, or every call logs "AFC is enabled" and may loop on tool calls.
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        )

    def pieces_sync(self, client: Any, request: Request) -> Pieces:
        state = _StreamState()
        stream = client.models.generate_content_stream(
            model=self.spec.model, contents=_contents(request), config=self._config(request)
        )
        with closing(stream):
            for chunk in stream:
                yield from state.read(chunk)
        yield from state.end()

    async def pieces_async(self, client: Any, request: Request) -> AsyncPieces:
        state = _StreamState()
        stream = await client.aio.models.generate_content_stream(
            model=self.spec.model, contents=_contents(request), config=self._config(request)
        )
        async with aclosing(stream):
            async for chunk in stream:
                for piece in state.read(chunk):
                    yield piece
        for piece in state.end():
            yield piece


def _contents(request: Request) -> Any:
    """The prompt alone, or the conversation as Gemini's contents: its answers are "model"."""
    if not request.history:
        return request.prompt
    return [
        {"role": "model" if role == "assistant" else "user", "parts": [{"text": text}]}
        for role, text in request.turns()
    ]


class _StreamState:
    def __init__(self) -> None:
        self.reason: str | None = None
        self.tokens: Tokens | None = None

    def read(self, chunk: Any) -> Iterator[Piece]:
        for candidate in (chunk.candidates or ())[:1]:
            content = candidate.content
            for part in content.parts if content and content.parts else ():
                if part.text and not part.thought:
                    yield part.text
            if candidate.finish_reason:
                self.reason = str(
                    getattr(candidate.finish_reason, "value", candidate.finish_reason)
                )
        meta = chunk.usage_metadata
        if meta is not None and (meta.prompt_token_count or meta.candidates_token_count):
            output = meta.candidates_token_count
            if output is not None and meta.thoughts_token_count:
                # Thinking is billed as output and counted apart; OpenAI's count includes it.
                output += meta.thoughts_token_count
            self.tokens = Tokens(meta.prompt_token_count, output)

    def end(self) -> Iterator[Piece]:
        if self.tokens is not None:
            yield self.tokens
        if self.reason is not None:
            yield Done(self.reason)
