"""Anthropic's Messages API through the official SDK."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from providers.base import Adapter, Done, Piece, Tokens
from providers.request import Request

# The Messages API requires max_tokens; this leaves room for a long answer.
DEFAULT_MAX_TOKENS = 4096


class AnthropicAdapter(Adapter):
    provider = "anthropic"
    warmup = "anthropic"
    key_variables = ("ANTHROPIC_API_KEY",)

    def make_sync_client(self, timeout: float | None) -> Any:
        import anthropic

        return _warm(anthropic.Anthropic(**self._client_args(timeout)))

    def make_async_client(self, timeout: float | None) -> Any:
        import anthropic

        return _warm(anthropic.AsyncAnthropic(**self._client_args(timeout)))

    def _client_args(self, timeout: float | None) -> dict[str, Any]:
        return {
            "api_key": self.api_key(),
            "max_retries": 0,
            "timeout": timeout if timeout is not None else 600.0,
        }

    def _params(self, request: Request) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.spec.model,
            "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
            "messages": [{"role": "user", "content": request.prompt}],
            "stream": True,
        }
        if request.system:
            params["system"] = request.system
        if request.temperature is not None:
            params["temperature"] = request.temperature
        return params

    def pieces_sync(self, client: Any, request: Request) -> Iterator[Piece]:
        state = _StreamState()
        with client.messages.create(**self._params(request)) as stream:
            for event in stream:
                yield from state.read(event)
        yield from state.end()

    async def pieces_async(self, client: Any, request: Request) -> AsyncIterator[Piece]:
        state = _StreamState()
        async with await client.messages.create(**self._params(request)) as stream:
            async for event in stream:
                for piece in state.read(event):
                    yield piece
        for piece in state.end():
            yield piece


def _warm(client: Any) -> Any:
    """Load the lazily imported resources off the loop, before the clock starts."""
    _ = client.messages
    return client


class _StreamState:
    def __init__(self) -> None:
        self.input: int | None = None
        self.output: int | None = None
        self.reason: str | None = None
        self.stopped = False

    def read(self, event: Any) -> Iterator[Piece]:
        kind = event.type
        if kind == "message_start":
            self.input = event.message.usage.input_tokens
        elif kind == "content_block_delta" and event.delta.type == "text_delta":
            yield event.delta.text
        elif kind == "message_delta":
            self.reason = event.delta.stop_reason
            self.output = event.usage.output_tokens
        elif kind == "message_stop":
            self.stopped = True

    def end(self) -> Iterator[Piece]:
        if self.input is not None or self.output is not None:
            yield Tokens(self.input, self.output)
        if self.stopped:
            yield Done(self.reason)
