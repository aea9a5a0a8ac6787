"""Anthropic's Messages API through the official SDK.

The SDK sends the request and raises for error statuses; the stream's events are decoded
from its raw Server-Sent Events, because the SDK's own parser silently skips an event that
has no name, so a garbled chunk would read as a stream that merely ended early.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

from providers.adapters import stainless
from providers.adapters.sse import drain_async, drain_sync
from providers.base import Adapter, AsyncPieces, Done, Piece, Pieces, Tokens
from providers.failures import Classified, FailureKind, StreamError
from providers.request import Request

# The Messages API requires max_tokens; this leaves room for a long answer.
DEFAULT_MAX_TOKENS = 4096

# The `type` of an in-stream `error` event, as Anthropic documents them.
_ERROR_KINDS = {
    "authentication_error": FailureKind.AUTH,
    "permission_error": FailureKind.AUTH,
    "not_found_error": FailureKind.NOT_FOUND,
    "rate_limit_error": FailureKind.RATE_LIMITED,
}


class AnthropicAdapter(Adapter):
    warmup = "anthropic"

    def make_sync_client(self, timeout: float | None) -> Any:
        import anthropic
        import httpx2

        from providers.clients import limits, sync_hooks
        from providers.tls import httpx2_context
        from providers.watchdog import http_hooks

        http = anthropic.DefaultHttpxClient(
            event_hooks=sync_hooks(http_hooks()), verify=httpx2_context(), limits=limits(httpx2)
        )
        return anthropic.Anthropic(**self._client_args(timeout), http_client=http)

    def make_async_client(self, timeout: float | None) -> Any:
        import anthropic
        import httpx2

        from providers.clients import limits
        from providers.tls import httpx2_context

        http = anthropic.DefaultAsyncHttpxClient(verify=httpx2_context(), limits=limits(httpx2))
        return anthropic.AsyncAnthropic(**self._client_args(timeout), http_client=http)

    def classify(self, exc: BaseException) -> Classified | None:
        anthropic = sys.modules.get("anthropic")
        return None if anthropic is None else stainless.classify(anthropic, exc)

    def _client_args(self, timeout: float | None) -> dict[str, Any]:
        return {
            "api_key": self.api_key(),
            "max_retries": 0,
            "timeout": timeout if timeout is not None else stainless.DEFAULT_TIMEOUT_S,
        }

    def _params(self, request: Request) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.spec.model,
            "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
            # The system prompt is a parameter of its own here, never a message.
            "messages": [{"role": role, "content": text} for role, text in request.turns()],
            "stream": True,
        }
        if request.system:
            params["system"] = request.system
        if request.temperature is not None:
            params["temperature"] = request.temperature
        return params

    def pieces_sync(self, client: Any, request: Request) -> Pieces:
        from anthropic import Stream

        state = _StreamState()
        with client.messages.create(**self._params(request)) as stream:
            events = Stream.raw_events(stream.response)
            for sse in events:
                yield from state.read(sse.event, sse.data)
                if state.stopped:
                    break
            yield from state.end()
            drain_sync(events)

    async def pieces_async(self, client: Any, request: Request) -> AsyncPieces:
        from anthropic import AsyncStream

        state = _StreamState()
        async with await client.messages.create(**self._params(request)) as stream:
            events = AsyncStream.raw_events(stream.response)
            async for sse in events:
                for piece in state.read(sse.event, sse.data):
                    yield piece
                if state.stopped:
                    break
            for piece in state.end():
                yield piece
            await drain_async(events)


class _StreamState:
    def __init__(self) -> None:
        self.input: int | None = None
        self.output: int | None = None
        self.reason: str | None = None
        self.stopped = False

    def read(self, name: str | None, data: str) -> Iterator[Piece]:
        if name == "ping" or not data.strip():
            return
        if name is None:
            raise StreamError(
                f"malformed chunk in the response (an unnamed event: {data!r})",
                FailureKind.MALFORMED,
            )
        event = json.loads(data)
        if name == "error":
            raise _stream_error(event)
        try:
            yield from self._fold(event)
        except (KeyError, TypeError, AttributeError) as exc:
            message = f"malformed chunk in the response (a {name} event of the wrong shape)"
            raise StreamError(message, FailureKind.MALFORMED) from exc

    def _fold(self, event: Any) -> Iterator[Piece]:
        kind = event.get("type")
        if kind == "message_start":
            self.input = event["message"]["usage"].get("input_tokens")
        elif kind == "content_block_delta" and event["delta"].get("type") == "text_delta":
            yield event["delta"]["text"]
        elif kind == "message_delta":
            self.reason = event["delta"].get("stop_reason")
            self.output = (event.get("usage") or {}).get("output_tokens")
        elif kind == "message_stop":
            self.stopped = True

    def end(self) -> Iterator[Piece]:
        if self.input is not None or self.output is not None:
            yield Tokens(self.input, self.output)
        if self.stopped:
            yield Done(self.reason)


def _stream_error(body: Any) -> StreamError:
    """An `error` event sent after the 200 (e.g. overloaded): its own words and kind."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return StreamError(f"error event in the stream: {body}", FailureKind.OTHER)
    kind = _ERROR_KINDS.get(str(error.get("type")), FailureKind.OTHER)
    return StreamError(str(error.get("message") or error.get("type")), kind)
