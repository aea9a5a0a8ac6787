"""Gemini through google-genai (`client.models` sync, `client.aio.models` async)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing, closing
from typing import Any

from providers.base import Adapter, Done, Piece, Tokens
from providers.request import Request


class GeminiAdapter(Adapter):
    provider = "gemini"
    warmup = "gemini"
    key_variables = ("GEMINI_API_KEY", "GOOGLE_API_KEY")

    def make_sync_client(self, timeout: float | None) -> Any:
        return self._client(timeout)

    def make_async_client(self, timeout: float | None) -> Any:
        # A client of its own per event loop; kept referenced, since google-genai closes
        # clients that nothing holds.
        return self._client(timeout)

    def _client(self, timeout: float | None) -> Any:
        from google import genai
        from google.genai import types

        options = types.HttpOptions(timeout=int(timeout * 1000) if timeout else None)
        client = genai.Client(api_key=self.api_key(), http_options=options)
        # Build the lazily created model resources now, off the loop, before the clock.
        _ = client.models, client.aio.models
        return client

    async def close_async_client(self, client: Any) -> None:
        await client.aio.aclose()

    def _config(self, request: Request) -> Any:
        from google.genai import types

        return types.GenerateContentConfig(
            system_instruction=request.system or None,
            temperature=request.temperature,
            max_output_tokens=request.max_tokens,
            # Off, or every call logs "AFC is enabled" and may loop on tool calls.
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        )

    def pieces_sync(self, client: Any, request: Request) -> Iterator[Piece]:
        state = _StreamState()
        stream = client.models.generate_content_stream(
            model=self.spec.model, contents=request.prompt, config=self._config(request)
        )
        with closing(stream):
            for chunk in stream:
                yield from state.read(chunk)
        yield from state.end()

    async def pieces_async(self, client: Any, request: Request) -> AsyncIterator[Piece]:
        state = _StreamState()
        stream = await client.aio.models.generate_content_stream(
            model=self.spec.model, contents=request.prompt, config=self._config(request)
        )
        async with aclosing(stream):
            async for chunk in stream:
                for piece in state.read(chunk):
                    yield piece
        for piece in state.end():
            yield piece


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
            self.tokens = Tokens(meta.prompt_token_count, meta.candidates_token_count)

    def end(self) -> Iterator[Piece]:
        if self.tokens is not None:
            yield self.tokens
        if self.reason is not None:
            yield Done(self.reason)
