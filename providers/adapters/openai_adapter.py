"""OpenAI, and every OpenAI-compatible server (named endpoints, the simulator, llama.cpp)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from typing import Any, ClassVar

from providers.adapters import stainless
from providers.adapters.sse import EventReader, drain_async, drain_sync
from providers.base import Adapter, AsyncPieces, Done, Piece, Pieces, Tokens, error_message
from providers.environment import get_key
from providers.failures import Classified, FailureKind, StreamError, http_failure
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

        from providers.clients import limits, sync_hooks
        from providers.tls import httpx2_context
        from providers.watchdog import http_hooks

        transport = httpx2.HTTPTransport(verify=httpx2_context(), limits=limits(httpx2))
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
        state, reader = _StreamState(), EventReader()
        with client.chat.completions.create(**self._params(request)) as stream:
            body = stream.response.iter_bytes()
            for piece in body:
                for event in reader.feed(piece):
                    yield from state.read(*event)
                if state.done:
                    break
            yield from state.end()
            drain_sync(body)

    async def pieces_async(self, client: Any, request: Request) -> AsyncPieces:
        state, reader = _StreamState(), EventReader()
        async with await client.chat.completions.create(**self._params(request)) as stream:
            body = stream.response.aiter_bytes()
            async for piece in body:
                for event in reader.feed(piece):
                    for part in state.read(*event):
                        yield part
                if state.done:
                    break
            for part in state.end():
                yield part
            await drain_async(body)


class _StreamState:
    """Chunks read as the JSON they are (see providers/adapters/sse.py for why not through
    the SDK's objects). The finish reason comes before the usage chunk, so the end is only
    known at `[DONE]` (or the body's end, without one)."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self.done = False

    def read(self, name: str | None, data: str) -> Iterator[Piece]:
        if self.done or not data.strip():
            return
        if data.startswith("[DONE]"):
            self.done = True
            return
        try:
            chunk = json.loads(data)
        except ValueError:
            if name not in _CHUNK_EVENTS:
                return  # a server's own named event (a ping, progress), not a chunk
            raise
        if isinstance(chunk, dict) and (chunk.get("error") or chunk.get("object") == "error"):
            raise _stream_error(chunk)
        try:
            yield from self._fold(chunk)
        except (KeyError, TypeError, AttributeError) as exc:
            message = "malformed chunk in the response (a chunk of the wrong shape)"
            raise StreamError(message, FailureKind.MALFORMED) from exc

    def _fold(self, chunk: Any) -> Iterator[Piece]:
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta")
            if delta:
                text = _text(delta.get("content"))
                if text:
                    yield text
            if choice.get("finish_reason"):
                self.reason = choice["finish_reason"]
        usage = chunk.get("usage")
        if usage:
            yield Tokens(usage.get("prompt_tokens"), usage.get("completion_tokens"))

    def end(self) -> Iterator[Piece]:
        if self.reason is not None:
            yield Done(self.reason)


# Chat completions' chunks come unnamed; `message` is the name an unnamed event has by the spec.
_CHUNK_EVENTS = (None, "", "message")


def _text(content: Any) -> str | None:
    """A delta's text: a string, or (as some servers send it) a list of parts, of which the
    text ones count; anything else is a chunk of the wrong shape."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p["text"] for p in content if p.get("type") == "text" and isinstance(p["text"], str)
        )
    raise TypeError(f"content of type {type(content).__name__}")


def _stream_error(body: dict[str, Any]) -> StreamError:
    """An error sent inside a 200 stream, in the server's words (OpenAI nests it under
    `error`, others send a string or a top-level `object: error`)."""
    message = error_message(body) or "An error occurred during streaming"
    inner = body.get("error")
    code = (inner if isinstance(inner, dict) else body).get("code")
    if isinstance(code, int) and 400 <= code <= 599:
        found = http_failure(code, message)
        return StreamError(message, found.kind, code)
    return StreamError(message, FailureKind.OTHER)


class CompatibleAdapter(OpenAIAdapter):
    """A named endpoint from the config file."""

    max_tokens_field = "max_tokens"
