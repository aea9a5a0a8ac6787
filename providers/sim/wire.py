"""Wire formats of the four chat APIs and OpenAI's legacy completions: request parsing,
stream events, bodies, errors.

Everything here is pure (dicts and bytes in, bytes out) so the server module only deals with
sockets and timing.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from .profiles import PROFILES, SimError
from .text import count_tokens


class BadRequest(Exception):
    """The request cannot be served; carries the HTTP status for the provider's error body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class ChatRequest:
    """What the simulator needs from a chat request, whatever API it came through."""

    api: str  # "openai" | "completions" | "anthropic" | "gemini" | "ollama"
    model: str
    prompt: str  # text of the last user message
    input_tokens: int
    max_tokens: int | None
    stream: bool
    include_usage: bool = False
    # (role, text) of every message as the API named it; a separate system prompt apart.
    messages: list[tuple[str, str]] = field(default_factory=list)
    system: str = ""


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _text_of(content: Any) -> str:
    """Text of a message content: a string or a list of parts/blocks with ``text``."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        content = [content]
    if isinstance(content, list):
        out = []
        for part in content:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                out.append(part["text"])
        return "".join(out)
    raise BadRequest(400, "message content must be a string or a list of text parts")


def _messages(
    body: dict, key: str, role_key: str, content_key: str
) -> tuple[str, list[tuple[str, str]]]:
    """The last user message's text, and (role, text) of every message."""
    msgs = body.get(key)
    if not isinstance(msgs, list) or not msgs:
        raise BadRequest(400, f"'{key}' must be a non-empty list")
    pairs, prompt = [], ""
    for m in msgs:
        if not isinstance(m, dict):
            raise BadRequest(400, f"each item of '{key}' must be an object")
        text = _text_of(m.get(content_key))
        role = m.get(role_key, "user")
        pairs.append((str(role), text))
        if role == "user":
            prompt = text
    return prompt, pairs


def echo_text(req: ChatRequest) -> str:
    """What the request carried, as the answer of an `echo=1` model: JSON, so a test can
    read back exactly which messages (and whose answers) a model was sent."""
    doc = {"api": req.api, "model": req.model, "system": req.system, "messages": req.messages}
    return _dumps(doc)


def context_error(api: str, limit: int, used: int) -> str:
    """Each API's own words for a conversation longer than the model's context."""
    if api == "anthropic":
        return f"prompt is too long: {used} tokens > {limit} maximum"
    if api == "gemini":
        return (
            f"The input token count ({used}) exceeds the maximum number of tokens allowed"
            f" ({limit})."
        )
    if api == "ollama":
        return f"the input length ({used} tokens) exceeds the context length ({limit})"
    return (
        f"This model's maximum context length is {limit} tokens. However, your messages"
        f" resulted in {used} tokens. Please reduce the length of the messages."
    )


def _model(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise BadRequest(400, "'model' must be a non-empty string")
    return name.strip()


def _int_or_none(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(400, f"'{what}' must be an integer")
    return value


def parse_openai(body: dict) -> ChatRequest:
    model = _model(body.get("model"))
    prompt, pairs = _messages(body, "messages", "role", "content")
    cap = body.get("max_completion_tokens", body.get("max_tokens"))
    opts = body.get("stream_options") or {}
    return ChatRequest(
        "openai",
        model,
        prompt,
        count_tokens("\n".join(t for _, t in pairs)),
        _int_or_none(cap, "max_tokens"),
        bool(body.get("stream")),
        bool(isinstance(opts, dict) and opts.get("include_usage")),
        pairs,
    )


def parse_completions(body: dict) -> ChatRequest:
    """The legacy completions API (what benchmark clients such as GuideLLM speak).

    ``prompt`` is a string, a list holding one string, or a list of token ids; the simulator
    answers one prompt per request. With no ``max_tokens`` the profile's length applies.
    """
    model = _model(body.get("model"))
    prompt = body.get("prompt")
    if (
        isinstance(prompt, list)
        and prompt
        and all(isinstance(t, int) and not isinstance(t, bool) for t in prompt)
    ):
        text, n_input = " ".join(map(str, prompt)), len(prompt)
    else:
        if isinstance(prompt, list) and len(prompt) == 1:
            prompt = prompt[0]
        if not isinstance(prompt, str):
            raise BadRequest(
                400, "'prompt' must be a string, a list of one string, or a list of token ids"
            )
        text, n_input = prompt, count_tokens(prompt)
    opts = body.get("stream_options") or {}
    return ChatRequest(
        "completions",
        model,
        text,
        n_input,
        _int_or_none(body.get("max_tokens"), "max_tokens"),
        bool(body.get("stream")),
        bool(isinstance(opts, dict) and opts.get("include_usage")),
    )


def parse_anthropic(body: dict) -> ChatRequest:
    model = _model(body.get("model"))
    prompt, pairs = _messages(body, "messages", "role", "content")
    texts = [t for _, t in pairs]
    system = _text_of(body.get("system"))
    cap = _int_or_none(body.get("max_tokens"), "max_tokens")
    if cap is None:
        raise BadRequest(400, "max_tokens: Field required")
    all_text = "\n".join([system, *texts] if system else texts)
    return ChatRequest(
        "anthropic",
        model,
        prompt,
        count_tokens(all_text),
        cap,
        bool(body.get("stream")),
        messages=pairs,
        system=system,
    )


def parse_gemini(body: dict, model: str, stream: bool) -> ChatRequest:
    contents = body.get("contents")
    if isinstance(contents, dict):
        body = {**body, "contents": [contents]}
    prompt, pairs = _messages(body, "contents", "role", "parts")
    texts = [t for _, t in pairs]
    sys_inst = body.get("systemInstruction", body.get("system_instruction"))
    system = _text_of(sys_inst.get("parts")) if isinstance(sys_inst, dict) else ""
    config = body.get("generationConfig", body.get("generation_config")) or {}
    cap = config.get("maxOutputTokens", config.get("max_output_tokens"))
    all_text = "\n".join([system, *texts] if system else texts)
    return ChatRequest(
        "gemini",
        model,
        prompt,
        count_tokens(all_text),
        _int_or_none(cap, "maxOutputTokens"),
        stream,
        messages=pairs,
        system=system,
    )


def parse_ollama(body: dict) -> ChatRequest:
    model = _model(body.get("model"))
    if model.endswith(":latest"):
        model = model[: -len(":latest")]
    prompt, pairs = _messages(body, "messages", "role", "content")
    options = body.get("options") or {}
    cap = _int_or_none(options.get("num_predict"), "num_predict")
    if cap is not None and cap < 0:
        cap = None
    stream = body.get("stream")
    return ChatRequest(
        "ollama",
        model,
        prompt,
        count_tokens("\n".join(t for _, t in pairs)),
        cap,
        stream is None or bool(stream),
        messages=pairs,
    )


# ---- errors -------------------------------------------------------------------------------

_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "invalid_request_error",
    429: "rate_limit_exceeded",
}
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}
_GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def error_body(api: str, status: int, message: str, code: str | None = None) -> bytes:
    """An error body shaped like the given API's own errors; `code` overrides OpenAI's."""
    if api == "anthropic":
        kind = _ANTHROPIC_TYPES.get(status, "api_error")
        obj: dict = {"type": "error", "error": {"type": kind, "message": message}}
    elif api == "gemini":
        obj = {
            "error": {
                "code": status,
                "message": message,
                "status": _GOOGLE_STATUS.get(status, "UNKNOWN"),
            }
        }
    elif api == "ollama":
        obj = {"error": message}
    else:
        kind = _OPENAI_TYPES.get(status, "server_error")
        code = code or ("model_not_found" if status == 404 else None)
        obj = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return _dumps(obj).encode()


def fault_message(status: int, key: str = "") -> str:
    if status == 401:
        # Real APIs echo the key they refused; clients must scrub it before showing errors.
        return f"Incorrect API key provided: {key}. You can find your API key in your account."
    if status == 429:
        return "simulated rate limit: too many requests, try again later"
    return f"simulated server error (HTTP {status})"


# ---- model lists --------------------------------------------------------------------------


def models_body(api: str) -> bytes:
    names = list(PROFILES)
    data: list[dict[str, object]]
    if api == "anthropic":
        data = [
            {
                "type": "model",
                "id": n,
                "display_name": f"sim {n}",
                "created_at": "2026-01-01T00:00:00Z",
            }
            for n in names
        ]
        return _dumps(
            {"data": data, "has_more": False, "first_id": names[0], "last_id": names[-1]}
        ).encode()
    if api == "gemini":
        data = [
            {
                "name": f"models/{n}",
                "displayName": f"sim {n}",
                "supportedGenerationMethods": ["generateContent", "streamGenerateContent"],
            }
            for n in names
        ]
        return _dumps({"models": data}).encode()
    if api == "ollama":
        data = [
            {
                "name": n,
                "model": n,
                "modified_at": "2026-01-01T00:00:00Z",
                "size": 0,
                "digest": "0" * 64,
                "details": {
                    "format": "sim",
                    "family": "sim",
                    "parameter_size": "0B",
                    "quantization_level": "none",
                },
            }
            for n in names
        ]
        return _dumps({"models": data}).encode()
    data = [{"id": n, "object": "model", "created": 0, "owned_by": "modelrace-sim"} for n in names]
    return _dumps({"object": "list", "data": data}).encode()


# ---- streams ------------------------------------------------------------------------------


class Format:
    """Builds the bytes of one response in one API's format. Subclasses keep stream state."""

    content_type = "text/event-stream; charset=utf-8"
    malformed = b'data: {"broken": \n\n'

    def __init__(self, req: ChatRequest) -> None:
        self.req = req
        self.created = int(time.time())
        self.started = time.perf_counter()

    def preamble(self) -> list[bytes]:
        return []

    def first(self) -> list[bytes]:
        return []

    def delta(self, piece: str, final: bool, done_tokens: int, finish: str) -> list[bytes]:
        raise NotImplementedError

    def end(self, n: int, finish: str) -> list[bytes]:
        return []

    def body(self, text: str, n: int, finish: str) -> bytes:
        raise NotImplementedError


class OpenAIFormat(Format):
    chunk_object = "chat.completion.chunk"

    def __init__(self, req: ChatRequest) -> None:
        super().__init__(req)
        self.id = f"chatcmpl-sim{uuid.uuid4().hex[:24]}"

    def _chunk(self, choices: list, usage: dict | None = None, with_usage: bool = False) -> bytes:
        obj: dict = {
            "id": self.id,
            "object": self.chunk_object,
            "created": self.created,
            "model": self.req.model,
            "system_fingerprint": None,
            "choices": choices,
        }
        if self.req.include_usage or with_usage:
            obj["usage"] = usage
        return f"data: {_dumps(obj)}\n\n".encode()

    @staticmethod
    def _choice(delta: dict, finish: str | None = None) -> dict:
        return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}

    def first(self) -> list[bytes]:
        return [self._chunk([self._choice({"role": "assistant", "content": "", "refusal": None})])]

    def delta(self, piece: str, final: bool, done_tokens: int, finish: str) -> list[bytes]:
        return [self._chunk([self._choice({"content": piece})])]

    def _usage(self, n: int) -> dict:
        i = self.req.input_tokens
        return {"prompt_tokens": i, "completion_tokens": n, "total_tokens": i + n}

    def end(self, n: int, finish: str) -> list[bytes]:
        out = [self._chunk([self._choice({}, finish)])]
        if self.req.include_usage:
            out.append(self._chunk([], self._usage(n)))
        out.append(b"data: [DONE]\n\n")
        return out

    def body(self, text: str, n: int, finish: str) -> bytes:
        message = {"role": "assistant", "content": text, "refusal": None}
        obj = {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.req.model,
            "system_fingerprint": None,
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            ],
            "usage": self._usage(n),
        }
        return _dumps(obj).encode()


class CompletionsFormat(OpenAIFormat):
    """The legacy completions API: the same stream as chat, with ``text`` instead of deltas."""

    chunk_object = "text_completion"

    def __init__(self, req: ChatRequest) -> None:
        super().__init__(req)
        self.id = f"cmpl-sim{uuid.uuid4().hex[:24]}"

    @staticmethod
    def _choice(delta: dict, finish: str | None = None) -> dict:
        text = delta.get("content", "")
        return {"text": text, "index": 0, "logprobs": None, "finish_reason": finish}

    def first(self) -> list[bytes]:
        return []

    def body(self, text: str, n: int, finish: str) -> bytes:
        obj = {
            "id": self.id,
            "object": "text_completion",
            "created": self.created,
            "model": self.req.model,
            "system_fingerprint": None,
            "choices": [self._choice({"content": text}, finish)],
            "usage": self._usage(n),
        }
        return _dumps(obj).encode()


_ANTHROPIC_STOP = {"stop": "end_turn", "length": "max_tokens"}


class AnthropicFormat(Format):
    malformed = b'event: content_block_delta\ndata: {"type": "content_block_delta", \n\n'

    def __init__(self, req: ChatRequest) -> None:
        super().__init__(req)
        self.id = f"msg_sim{uuid.uuid4().hex[:20]}"

    @staticmethod
    def _event(name: str, obj: dict) -> bytes:
        return f"event: {name}\ndata: {_dumps(obj)}\n\n".encode()

    def _message(self, content: list, stop: str | None, out_tokens: int) -> dict:
        return {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.req.model,
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": self.req.input_tokens, "output_tokens": out_tokens},
        }

    def preamble(self) -> list[bytes]:
        return [
            self._event(
                "message_start", {"type": "message_start", "message": self._message([], None, 1)}
            ),
            self._event(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            ),
            self._event("ping", {"type": "ping"}),
        ]

    def delta(self, piece: str, final: bool, done_tokens: int, finish: str) -> list[bytes]:
        return [
            self._event(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": piece},
                },
            )
        ]

    def end(self, n: int, finish: str) -> list[bytes]:
        return [
            self._event("content_block_stop", {"type": "content_block_stop", "index": 0}),
            self._event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": _ANTHROPIC_STOP[finish], "stop_sequence": None},
                    "usage": {"output_tokens": n},
                },
            ),
            self._event("message_stop", {"type": "message_stop"}),
        ]

    def body(self, text: str, n: int, finish: str) -> bytes:
        content = [{"type": "text", "text": text}]
        return _dumps(self._message(content, _ANTHROPIC_STOP[finish], n)).encode()


_GEMINI_FINISH = {"stop": "STOP", "length": "MAX_TOKENS"}


class GeminiFormat(Format):
    malformed = b'data: {"candidates": [\r\n\r\n'

    def __init__(self, req: ChatRequest) -> None:
        super().__init__(req)
        self.id = uuid.uuid4().hex[:22]
        self.finished = False

    def _response(self, text: str, finish: str | None, n: int) -> dict:
        candidate: dict = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
        obj: dict = {
            "candidates": [candidate],
            "modelVersion": self.req.model,
            "responseId": self.id,
        }
        i = self.req.input_tokens
        if finish is not None:
            candidate["finishReason"] = _GEMINI_FINISH[finish]
            obj["usageMetadata"] = {
                "promptTokenCount": i,
                "candidatesTokenCount": n,
                "totalTokenCount": i + n,
            }
        else:
            obj["usageMetadata"] = {"promptTokenCount": i, "totalTokenCount": i}
        return obj

    def delta(self, piece: str, final: bool, done_tokens: int, finish: str) -> list[bytes]:
        self.finished = final
        obj = self._response(piece, finish if final else None, done_tokens)
        return [f"data: {_dumps(obj)}\r\n\r\n".encode()]

    def end(self, n: int, finish: str) -> list[bytes]:
        if self.finished:
            return []
        return [f"data: {_dumps(self._response('', finish, n))}\r\n\r\n".encode()]

    def body(self, text: str, n: int, finish: str) -> bytes:
        return _dumps(self._response(text, finish, n)).encode()


class OllamaFormat(Format):
    content_type = "application/x-ndjson"
    malformed = b'{"model": "broken", "message": {\n'

    def _now(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000000Z"

    def _line(self, content: str, done: bool) -> dict:
        return {
            "model": self.req.model,
            "created_at": self._now(),
            "message": {"role": "assistant", "content": content},
            "done": done,
        }

    def delta(self, piece: str, final: bool, done_tokens: int, finish: str) -> list[bytes]:
        return [(_dumps(self._line(piece, False)) + "\n").encode()]

    def _final(self, content: str, n: int, finish: str) -> dict:
        total = int((time.perf_counter() - self.started) * 1e9)
        obj = self._line(content, True)
        obj.update(
            done_reason=finish,
            total_duration=total,
            load_duration=0,
            prompt_eval_count=self.req.input_tokens,
            prompt_eval_duration=0,
            eval_count=n,
            eval_duration=total,
        )
        return obj

    def end(self, n: int, finish: str) -> list[bytes]:
        return [(_dumps(self._final("", n, finish)) + "\n").encode()]

    def body(self, text: str, n: int, finish: str) -> bytes:
        return _dumps(self._final(text, n, finish)).encode()


FORMATS: dict[str, type[Format]] = {
    "openai": OpenAIFormat,
    "completions": CompletionsFormat,
    "anthropic": AnthropicFormat,
    "gemini": GeminiFormat,
    "ollama": OllamaFormat,
}

__all__ = ["FORMATS", "BadRequest", "ChatRequest", "SimError", "error_body", "models_body"]
