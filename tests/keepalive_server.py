"""A loopback server that answers 200 and then only keeps the connection alive, forever.

Real services do this while a model thinks or a queue drains: SSE comments (`: ping`),
Anthropic `ping` events, Gemini chunks with no parts, Ollama lines with empty content. A
client that checks its deadline only when text arrives never ends on such a stream.

Independent of the simulator on purpose: it speaks each provider's wire format from the
providers' documentation, not from our own code. The model name picks the behaviour:
`silent` sends no text at all; `partial` sends PARTIAL first, then stalls the same way.

Run it as its own process (`python tests/keepalive_server.py`): it prints its URL on the first
line of stdout and serves until killed, so the threads and sockets it uses are never counted
as the client's.
"""

from __future__ import annotations

import json
import re
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PARTIAL = "Hello from before the stall. "
KEEPALIVE_EVERY = 0.2
_GEMINI = re.compile(r"/models/([^/:]+):streamGenerateContent")


def _sse(event: str | None, data: dict) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()


def openai_stream(model: str) -> tuple[str, list[bytes], bytes]:
    """(content type, what comes first, what repeats forever)."""
    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": model}
    first = [_sse(None, {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant"}}]})]
    if model == "partial":
        delta = {"index": 0, "delta": {"content": PARTIAL}, "finish_reason": None}
        first.append(_sse(None, {**chunk, "choices": [delta]}))
    return "text/event-stream", first, b": ping\n\n"


def anthropic_stream(model: str) -> tuple[str, list[bytes], bytes]:
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    first = [
        _sse("message_start", {"type": "message_start", "message": message}),
        _sse(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
    ]
    if model == "partial":
        delta = {"type": "text_delta", "text": PARTIAL}
        first.append(
            _sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
        )
    return "text/event-stream", first, _sse("ping", {"type": "ping"})


def gemini_stream(model: str) -> tuple[str, list[bytes], bytes]:
    def chunk(parts: list[dict]) -> bytes:
        candidate = {"content": {"role": "model", "parts": parts}, "index": 0}
        return f"data: {json.dumps({'candidates': [candidate]})}\r\n\r\n".encode()

    first = [chunk([{"text": PARTIAL}])] if model == "partial" else []
    return "text/event-stream", first, chunk([])


def ollama_stream(model: str) -> tuple[str, list[bytes], bytes]:
    def line(content: str) -> bytes:
        message = {"role": "assistant", "content": content}
        body = {"model": model, "created_at": "2026-01-01T00:00:00Z", "message": message}
        return (json.dumps({**body, "done": False}) + "\n").encode()

    first = [line(PARTIAL)] if model == "partial" else []
    return "application/x-ndjson", first, line("")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        # Ollama's adapter asks whether a server is up before racing it.
        body = b'{"version": "0.6.3"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        path = self.path.split("?")[0]
        if path.endswith("/chat/completions"):
            kind, first, keepalive = openai_stream(body.get("model", ""))
        elif path.endswith("/messages"):
            kind, first, keepalive = anthropic_stream(body.get("model", ""))
        elif path == "/api/chat":
            kind, first, keepalive = ollama_stream(body.get("model", ""))
        elif match := _GEMINI.search(path):
            kind, first, keepalive = gemini_stream(match.group(1))
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for piece in first:
                self._chunk(piece)
            while True:
                self._chunk(keepalive)
                time.sleep(KEEPALIVE_EVERY)
        except OSError:
            pass  # the client hung up: what a deadline or a cancel should make it do
        self.close_connection = True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
