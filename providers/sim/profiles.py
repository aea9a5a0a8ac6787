"""Simulated model profiles: how fast a fake model answers and how it fails.

A sim model name is a profile name plus optional overrides after commas, e.g.
``fast,ttft=0.2,tps=50,tokens=40,jitter=0,seed=7,fault=drop,after=10,status=503,stall=5``
(``slots=K``: at most K answers at once, the rest queue, as llama.cpp and vLLM do;
``times=N``: the fault only on the first N requests of that model and prompt, then answers,
``retry_after=S``: an http_error's ``Retry-After`` header, for testing retries;
``echo=1``: the answer is the request's messages as JSON, to check what a client sent;
``context=N``: a request of more than N input tokens is refused as too long, with a 400;
``newlines=off``: the whole answer on one line, and ``burst=K``: K tokens to a streamed event,
sent when the last of them is due, so a long answer arrives at an ordinary event rate).
Keeping every knob in the model name means any client that can name a model can drive
the simulator, with no side channel.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

FAULTS = (None, "http_error", "drop", "malformed", "stall")


class SimError(Exception):
    """A simulator problem worth a one-line message (bad model name, failed start)."""


@dataclass(frozen=True)
class Profile:
    """Timing and failure behaviour of one simulated model."""

    name: str
    ttft_s: float = 0.1
    tokens_per_s: float = 100.0
    tokens: int = 60
    jitter: float = 0.0
    seed: int = 0
    fault: str | None = None
    fault_after: int = 0
    status: int = 500
    stall_s: float = 3600.0
    text: str | None = None  # fixed answer; when set, ``tokens`` is ignored
    slots: int | None = None  # answers served at once; None: no limit
    fault_times: int | None = None  # faults on this many requests, then none; None: always
    retry_after_s: float | None = None  # Retry-After sent with an http_error
    echo: int = 0  # 1: answer with what the request carried (wire.echo_text)
    context_tokens: int | None = None  # input tokens accepted; None: no limit
    newlines: bool = True  # False: line breaks in the answer become spaces
    burst: int = 1  # tokens per streamed event


_MARKUP_TEXT = (
    "# Markup torture test\n\n"
    "Rich markup that must stay literal: [bold red]x[/] and [link=http://x]y[/link] "
    "and [/] on its own.\n\n"
    "Raw escapes: \x1b[31mred?\x1b[0m and a clear screen \x1b[2J here.\n\n"
    "- **bold** item\n- `code` item with [brackets]\n\n"
    "```python\nprint('[red]not red[/red]')\n```\n\n"
    "| a | b |\n|---|---|\n| 1 | 2 |\n\nDone.\n"
)

PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("fast", ttft_s=0.05, tokens_per_s=200.0, tokens=60),
        Profile("slow", ttft_s=0.8, tokens_per_s=25.0, tokens=60),
        Profile("hosted", ttft_s=0.6, tokens_per_s=70.0, tokens=120, jitter=0.2),
        Profile("localish", ttft_s=0.15, tokens_per_s=30.0, tokens=80, jitter=0.1),
        Profile("flaky", ttft_s=0.1, tokens_per_s=100.0, tokens=60, fault="drop", fault_after=20),
        Profile("error", ttft_s=0.0, fault="http_error", status=500),
        Profile("ratelimited", ttft_s=0.0, fault="http_error", status=429),
        Profile("unauthorized", ttft_s=0.0, fault="http_error", status=401),
        Profile("malformed", ttft_s=0.05, tokens_per_s=100.0, fault="malformed", fault_after=10),
        Profile("stall", ttft_s=0.05, tokens_per_s=100.0, fault="stall", fault_after=5),
        Profile("markup", ttft_s=0.05, tokens_per_s=200.0, text=_MARKUP_TEXT),
    )
}


def _on_off(raw: str) -> bool:
    if raw not in ("on", "off"):
        raise ValueError(raw)
    return raw == "on"


# override key -> (Profile field, converter)
_KEYS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "ttft": ("ttft_s", float),
    "tps": ("tokens_per_s", float),
    "tokens": ("tokens", int),
    "jitter": ("jitter", float),
    "seed": ("seed", int),
    "fault": ("fault", str),
    "after": ("fault_after", int),
    "status": ("status", int),
    "stall": ("stall_s", float),
    "slots": ("slots", int),
    "times": ("fault_times", int),
    "retry_after": ("retry_after_s", float),
    "echo": ("echo", int),
    "context": ("context_tokens", int),
    "newlines": ("newlines", _on_off),
    "burst": ("burst", int),
}


# Every knob has a ceiling: anyone who can name a model (any client of a standalone
# simulator) must not be able to make it spend memory, CPU or an open connection for days.
MAX_NAME = 200
MAX_TOKENS = 100_000
MAX_SECONDS = 3600.0
MIN_TPS, MAX_TPS = 0.1, 100_000.0
MAX_SEED = 2**32 - 1
MAX_SLOTS = 100_000
MAX_CONTEXT = 10_000_000
MAX_BURST = 10_000


def profile_for(model_name: str) -> Profile:
    """Parse a sim model name (``base[,key=value...]``) into a :class:`Profile`."""
    if len(model_name) > MAX_NAME:
        raise SimError(
            f"sim model name too long ({len(model_name)} characters; at most {MAX_NAME})"
        )
    base, *overrides = [part.strip() for part in model_name.split(",")]
    if base not in PROFILES:
        raise SimError(f"unknown sim model {base!r}; known: {', '.join(PROFILES)}")
    # Any: each value has its own field's type (the converter in _KEYS); _check bounds them.
    changes: dict[str, Any] = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        key, raw = key.strip(), raw.strip()
        if not sep or key not in _KEYS:
            raise SimError(f"bad sim override {item!r} in {model_name!r}; keys: {', '.join(_KEYS)}")
        field, conv = _KEYS[key]
        try:
            value = None if key == "fault" and raw in ("none", "") else conv(raw)
        except ValueError:
            raise SimError(f"bad value for {key!r} in {model_name!r}: {raw!r}") from None
        changes[field] = value
    profile = dataclasses.replace(PROFILES[base], **changes)
    _check(profile, model_name)
    return profile


def _check(p: Profile, model_name: str) -> None:
    problems = []
    if p.fault not in FAULTS:
        problems.append(f"fault must be one of {', '.join(str(f) for f in FAULTS[1:])}")
    if not 0 <= p.ttft_s <= MAX_SECONDS:
        problems.append(f"ttft must be between 0 and {MAX_SECONDS:g} seconds")
    if not MIN_TPS <= p.tokens_per_s <= MAX_TPS:
        problems.append(f"tps must be between {MIN_TPS:g} and {MAX_TPS:g}")
    if not 1 <= p.tokens <= MAX_TOKENS:
        problems.append(f"tokens must be between 1 and {MAX_TOKENS}")
    if not 0 <= p.jitter < 1:
        problems.append("jitter must be in [0, 1)")
    if not 0 <= p.seed <= MAX_SEED:
        problems.append(f"seed must be between 0 and {MAX_SEED}")
    if not 0 <= p.fault_after <= MAX_TOKENS:
        problems.append(f"after must be between 0 and {MAX_TOKENS}")
    if not 400 <= p.status <= 599:
        problems.append("status must be an HTTP error status (400-599)")
    if not 0 <= p.stall_s <= MAX_SECONDS:
        problems.append(f"stall must be between 0 and {MAX_SECONDS:g} seconds")
    if p.slots is not None and not 1 <= p.slots <= MAX_SLOTS:
        problems.append(f"slots must be between 1 and {MAX_SLOTS}")
    if p.fault_times is not None and not 0 <= p.fault_times <= MAX_TOKENS:
        problems.append(f"times must be between 0 and {MAX_TOKENS}")
    if p.retry_after_s is not None and not 0 <= p.retry_after_s <= MAX_SECONDS:
        problems.append(f"retry_after must be between 0 and {MAX_SECONDS:g} seconds")
    if p.echo not in (0, 1):
        problems.append("echo must be 0 or 1")
    if p.context_tokens is not None and not 1 <= p.context_tokens <= MAX_CONTEXT:
        problems.append(f"context must be between 1 and {MAX_CONTEXT} tokens")
    if not 1 <= p.burst <= MAX_BURST:
        problems.append(f"burst must be between 1 and {MAX_BURST}")
    if problems:
        raise SimError(f"bad sim model {model_name!r}: {problems[0]}")
