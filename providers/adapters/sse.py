"""Server-Sent Events folded from a response's bytes, for an adapter that reads the raw stream.

The OpenAI SDK builds a pydantic object for every chunk of a stream, about 110 µs each: at 32
streams of 100 tokens/s that is 0.3 of a core on the loop that also draws the dashboard and
stamps each token's arrival, more than the rest of the app together. The SDK still builds and
sends the request, and raises its own exceptions for error statuses; only the events are read
here, as the Anthropic adapter reads them through its SDK's `raw_events`.

Bytes, not the HTTP library's text lines: those split at U+2028, U+2029 and U+0085 too (as
`str.splitlines` does), which servers leave unescaped inside JSON strings, and they decode by
the response's `charset`, while an event stream is always UTF-8.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

from providers.watchdog import hurry

Event = tuple[str | None, str]
# Once an answer is whole (`[DONE]`, `message_stop`), how long the body's end may take: read,
# the connection serves the next request; a server holding the body open loses it instead.
DRAIN_S = 0.5


def drain_sync(rest: Iterator[object]) -> None:
    """Read what is left of a body whose answer is whole, for at most DRAIN_S (the request's
    watchdog then shuts its socket); nothing when the body has ended."""
    hurry(DRAIN_S)
    with contextlib.suppress(Exception):
        for _ in rest:
            pass


async def drain_async(rest: AsyncIterator[object]) -> None:
    """`drain_sync` for an async body: at most DRAIN_S."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(DRAIN_S):
            async for _ in rest:
                pass


class EventReader:
    """Feed it the body's bytes as they come; out come the events each piece completed:
    `(name or None, data)`, several `data:` lines joined by newlines. Lines end at CR, LF or
    CRLF. Comments (`: keep-alive`) and fields other than `event` and `data` are skipped."""

    __slots__ = ("_after_cr", "_data", "_name", "_partial", "_started")

    def __init__(self) -> None:
        self._name: str | None = None
        self._data: list[str] = []
        self._partial = b""
        self._after_cr = False  # the last piece ended in CR: an LF opening the next is its pair
        self._started = False

    def feed(self, piece: bytes) -> list[Event]:
        if self._after_cr and piece[:1] == b"\n":
            piece = piece[1:]
        self._after_cr = piece[-1:] == b"\r"
        text = self._partial + piece
        if b"\r" in text:
            text = text.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *lines, self._partial = text.split(b"\n")
        events = []
        for raw in lines:
            event = self._line(raw.decode("utf-8", "replace"))
            if event is not None:
                events.append(event)
        return events

    def _line(self, line: str) -> Event | None:
        if not self._started:
            self._started = True
            line = line.removeprefix("\ufeff")
        if not line:
            if not self._data and self._name is None:
                return None
            event = (self._name, "\n".join(self._data))
            self._name, self._data = None, []
            return event
        if line[0] == ":":
            return None
        field, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._name = value
        return None
