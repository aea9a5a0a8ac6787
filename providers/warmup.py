"""Paying, while clients are prepared, what an SDK's first request would pay inside the clock.

A fresh process's first call costs 2–40 ms more than later ones (SDK modules imported on first
use, pydantic models built on first parse, the HTTP stack's lazy imports, connecting). Left
alone that lands in the first model's time to first token. Two steps, neither spends a token:

- once per process and SDK (sync and async apart): the adapter's own streaming call, made on a
  throwaway client whose transport answers in-process with a canned one-token stream in that
  API's wire format — no byte leaves the process, every SDK code path of a real call runs;
- once per connection a side will use at once: a free call on the real client (the
  provider's model list), which opens a connection a request then reuses. Its failure is
  ignored: the race will report it. Clients are shared and kept (providers/clients.py), so
  a client whose connections are known warm is not called again.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from providers.request import Request

if TYPE_CHECKING:
    from providers.base import Adapter

# A model list that takes longer than this is left unfinished; the race will show why.
CONNECT_TIMEOUT_S = 2.0
_LOCAL_URL = "http://warmup.invalid"
_PROMPT = Request("warm-up", max_tokens=1)


class Recipe:
    """How one SDK is warmed: a local client with an in-process transport, and a free call."""

    api = "openai"  # wire format of the canned answer
    http = "httpx2"  # the HTTP library the SDK is built on

    def local_client(self, handler: Callable[[Any], Any], is_async: bool) -> Any:
        raise NotImplementedError

    def free_call_sync(self, client: Any) -> None:
        raise NotImplementedError

    async def free_call_async(self, client: Any) -> None:
        raise NotImplementedError


class OpenAIRecipe(Recipe):
    def local_client(self, handler: Callable[[Any], Any], is_async: bool) -> Any:
        import httpx2
        import openai

        transport = httpx2.MockTransport(handler)
        if is_async:
            http = httpx2.AsyncClient(transport=transport)
            return openai.AsyncOpenAI(api_key="warm-up", base_url=_LOCAL_URL, http_client=http)
        http_sync = httpx2.Client(transport=transport)
        return openai.OpenAI(api_key="warm-up", base_url=_LOCAL_URL, http_client=http_sync)

    def free_call_sync(self, client: Any) -> None:
        client.models.list(timeout=CONNECT_TIMEOUT_S)

    async def free_call_async(self, client: Any) -> None:
        await client.models.list(timeout=CONNECT_TIMEOUT_S)


class AnthropicRecipe(Recipe):
    api = "anthropic"

    def local_client(self, handler: Callable[[Any], Any], is_async: bool) -> Any:
        import anthropic
        import httpx2

        transport = httpx2.MockTransport(handler)
        if is_async:
            http = httpx2.AsyncClient(transport=transport)
            return anthropic.AsyncAnthropic(
                api_key="warm-up", base_url=_LOCAL_URL, http_client=http
            )
        http_sync = httpx2.Client(transport=transport)
        return anthropic.Anthropic(api_key="warm-up", base_url=_LOCAL_URL, http_client=http_sync)

    def free_call_sync(self, client: Any) -> None:
        client.models.list(limit=1, timeout=CONNECT_TIMEOUT_S)

    async def free_call_async(self, client: Any) -> None:
        await client.models.list(limit=1, timeout=CONNECT_TIMEOUT_S)


class GeminiRecipe(Recipe):
    api = "gemini"

    def local_client(self, handler: Callable[[Any], Any], is_async: bool) -> Any:
        import httpx2
        from google import genai
        from google.genai import types

        transport = httpx2.MockTransport(handler)
        options = types.HttpOptions(
            base_url=_LOCAL_URL,
            httpx_client=httpx2.Client(transport=transport),
            httpx_async_client=httpx2.AsyncClient(transport=transport),
        )
        return genai.Client(api_key="warm-up", http_options=options)

    def _config(self) -> Any:
        from google.genai import types

        timeout = types.HttpOptions(timeout=int(CONNECT_TIMEOUT_S * 1000))
        return types.ListModelsConfig(page_size=1, http_options=timeout)

    def free_call_sync(self, client: Any) -> None:
        client.models.list(config=self._config())

    async def free_call_async(self, client: Any) -> None:
        await client.aio.models.list(config=self._config())


class OllamaRecipe(Recipe):
    api = "ollama"
    http = "httpx"

    def local_client(self, handler: Callable[[Any], Any], is_async: bool) -> Any:
        import httpx
        import ollama

        transport = httpx.MockTransport(handler)
        cls = ollama.AsyncClient if is_async else ollama.Client
        return cls(host=_LOCAL_URL, transport=transport)

    def free_call_sync(self, client: Any) -> None:
        client.list()

    async def free_call_async(self, client: Any) -> None:
        await client.list()


RECIPES: dict[str, Recipe] = {
    "openai": OpenAIRecipe(),
    "anthropic": AnthropicRecipe(),
    "gemini": GeminiRecipe(),
    "ollama": OllamaRecipe(),
}

_done: set[tuple[str, bool]] = set()
_locks: dict[tuple[str, bool], threading.Lock] = {}
_locks_guard = threading.Lock()


def warm_sync(adapter: Adapter) -> None:
    """Warm the SDK's sync path for this process (no network)."""
    recipe = RECIPES.get(adapter.warmup or "")
    if recipe is None:
        return
    _once((adapter.warmup or "", False), lambda: _local_call_sync(adapter, recipe))


def open_sync(recipe: Recipe, client: Any) -> bool:
    """Open a connection of `client` with a free call (blocking); False when it failed."""
    try:
        recipe.free_call_sync(client)
    except Exception:
        return False
    return True


def warm_async(adapter: Adapter) -> None:
    """Warm the SDK's async path for this process (on a loop of its own, no network).

    Call it from a worker thread, never from the loop that will race: it runs its own loop.
    """
    recipe = RECIPES.get(adapter.warmup or "")
    if recipe is None or _in_loop_thread():
        return
    _once((adapter.warmup or "", True), lambda: asyncio.run(_local_call_async(adapter, recipe)))


async def open_async(recipe: Recipe, client: Any) -> bool:
    """Open a connection of `client` with a free call, on its own loop, before the clock;
    False when it failed.

    Awaited on the loop itself, never waited for from a worker thread: the SDK may hand work
    (a name lookup) to the loop's default executor, which blocked workers would starve.
    """
    try:
        await asyncio.wait_for(recipe.free_call_async(client), CONNECT_TIMEOUT_S + 1)
    except Exception:
        return False
    return True


def _once(key: tuple[str, bool], work: Callable[[], None]) -> None:
    """Run `work` once per process for `key`; a second caller waits for the first."""
    with _locks_guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:
        if key in _done:
            return
        with contextlib.suppress(Exception):  # a warm-up that fails costs only its benefit
            work()
        _done.add(key)


def _local_call_sync(adapter: Adapter, recipe: Recipe) -> None:
    client = recipe.local_client(_canned(recipe), is_async=False)
    try:
        for _piece in adapter.pieces_sync(client, _PROMPT):
            pass
    finally:
        with contextlib.suppress(Exception):
            client.close()


async def _local_call_async(adapter: Adapter, recipe: Recipe) -> None:
    client = recipe.local_client(_canned(recipe), is_async=True)
    try:
        async for _piece in adapter.pieces_async(client, _PROMPT):
            pass
    finally:
        with contextlib.suppress(Exception):
            await adapter.close_async_client(client)


def _canned(recipe: Recipe) -> Callable[[Any], Any]:
    """A transport handler answering any request with a one-token stream in the SDK's format
    (the simulator's own wire module writes it)."""
    import importlib

    from providers.sim import wire

    http = importlib.import_module(recipe.http)
    request = wire.ChatRequest(recipe.api, "warm-up", "warm-up", 1, 1, True, include_usage=True)
    fmt = wire.FORMATS[recipe.api](request)
    events = [*fmt.preamble(), *fmt.first(), *fmt.delta("ok", True, 1, "stop")]
    body = b"".join([*events, *fmt.end(1, "stop")])
    headers = {"content-type": fmt.content_type}

    def handler(_request: Any) -> Any:
        return http.Response(200, headers=headers, content=body)

    return handler


def _in_loop_thread() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
