"""A sync transport whose event streams read their body's end before handing on `[DONE]`.

The OpenAI SDK's sync stream closes its response at `[DONE]`, before the body's last bytes
(the chunked encoding's end) are read, and an unfinished HTTP/1.1 response closes its
connection: every sync request would open a new one inside the clock, the async ones not
(the SDK's async stream drains the body first, for this very reason). This does the same for
the sync stream. Imported only when a sync OpenAI client is built.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx2

_DONE = b"data: [DONE]"


class DrainedAtDone(httpx2.BaseTransport):
    def __init__(self, inner: httpx2.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        response = self.inner.handle_request(request)
        content_type = response.headers.get("content-type", "")
        if content_type.startswith("text/event-stream") and isinstance(
            response.stream, httpx2.SyncByteStream
        ):
            response.stream = _Drained(response.stream)
        return response

    def close(self) -> None:
        self.inner.close()


class _Drained(httpx2.SyncByteStream):
    def __init__(self, inner: httpx2.SyncByteStream) -> None:
        self.inner = inner

    def __iter__(self) -> Iterator[bytes]:
        parts = iter(self.inner)
        for part in parts:
            if _DONE in part:
                # Only the body's end follows the marker: read it, then pass both on.
                yield part + b"".join(parts)
                return
            yield part

    def close(self) -> None:
        self.inner.close()
