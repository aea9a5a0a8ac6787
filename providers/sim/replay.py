"""Recordings the simulator plays back: a stored answer, sent at its recorded pace.

A client registers a recording (`POST /v1/replays`, the JSON below) and gets back a model
name, `replay-<digest>`; a chat request for that name over any wire format replays it. The
simulator never reads the run store itself: a recording arrives over the socket, so a
standalone simulator (`MODELRACE_SIM_URL`) plays it as well as the child process does, and no
disk is touched on the server's loop.

    {"chunks": [[offset_s, text], ...],   # each streamed piece, seconds after the request
     "end_s": float,                      # when the answer ended (or failed)
     "usage": [input, output] | null,     # the API's own token counts, when it reported them
     "fault": null | "http" | "drop" | "malformed" | "stall",
     "status": int | null, "message": str | null}

Offsets count from the request's arrival, or from the client's own start when it sends it
(`X-Modelrace-Started`) on this machine's monotonic clock: see `start_of`.
"""

from __future__ import annotations

import collections
import hashlib
import json
from dataclasses import dataclass

from .profiles import MAX_SECONDS, MAX_TOKENS

PREFIX = "replay-"
FAULTS = (None, "http", "drop", "malformed", "stall")
# Registered recordings a server keeps, oldest forgotten first.
KEEP = 512
# The client's monotonic clock when its request started (see `start_of`).
STARTED_HEADER = "X-Modelrace-Started"
# A start stamp further back than this is not the same clock (or not the same machine).
_PLAUSIBLE_S = 1.0


class BadRecording(ValueError):
    """A recording the simulator cannot play; the message is one line."""


@dataclass(frozen=True)
class Recording:
    chunks: tuple[tuple[float, str], ...]
    end_s: float
    usage: tuple[int | None, int | None] | None
    fault: str | None
    status: int | None
    message: str | None


def _seconds(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRecording(f"{what} must be a number of seconds")
    if not 0 <= value <= MAX_SECONDS:
        raise BadRecording(f"{what} must be between 0 and {MAX_SECONDS:g} seconds")
    return float(value)


def _count(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadRecording("usage counts must be whole numbers or null")
    return value


def parse(data: object) -> Recording:
    """Check a posted recording: every field typed and bounded, times never going back."""
    if not isinstance(data, dict):
        raise BadRecording("a recording must be a JSON object")
    raw_chunks = data.get("chunks", [])
    if not isinstance(raw_chunks, list) or len(raw_chunks) > MAX_TOKENS:
        raise BadRecording(f"'chunks' must be a list of at most {MAX_TOKENS} [offset, text]")
    chunks: list[tuple[float, str]] = []
    for item in raw_chunks:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[1], str)):
            raise BadRecording("each chunk must be [offset_s, text]")
        chunks.append((_seconds(item[0], "a chunk offset"), item[1]))
    end_s = _seconds(data.get("end_s", chunks[-1][0] if chunks else 0.0), "'end_s'")
    usage = data.get("usage")
    if usage is not None:
        if not isinstance(usage, list) or len(usage) != 2:
            raise BadRecording("'usage' must be [input_tokens, output_tokens] or null")
        usage = (_count(usage[0]), _count(usage[1]))
    fault = data.get("fault")
    if fault not in FAULTS:
        raise BadRecording(f"'fault' must be one of {', '.join(str(f) for f in FAULTS[1:])}")
    status = data.get("status")
    if fault == "http" and not (isinstance(status, int) and 400 <= status <= 599):
        raise BadRecording("an http fault needs a 'status' between 400 and 599")
    message = data.get("message")
    if message is not None and not isinstance(message, str):
        raise BadRecording("'message' must be a string")
    return Recording(tuple(chunks), end_s, usage, fault, status, message)


class Recordings:
    """One server's registered recordings, by model name (bounded, oldest dropped)."""

    def __init__(self) -> None:
        self._by_name: collections.OrderedDict[str, Recording] = collections.OrderedDict()

    def add(self, body: bytes) -> str:
        """Register the recording in `body`; its name, the same for the same recording."""
        try:
            data = json.loads(body or b"null")
        except ValueError as exc:
            raise BadRecording(f"recording is not valid JSON: {exc}") from None
        recording = parse(data)
        name = PREFIX + hashlib.sha256(body).hexdigest()[:24]
        self._by_name[name] = recording
        self._by_name.move_to_end(name)
        while len(self._by_name) > KEEP:
            self._by_name.popitem(last=False)
        return name

    def get(self, name: str) -> Recording | None:
        return self._by_name.get(name)


def start_of(header: str | None, arrived: float) -> float:
    """When to count a replay's offsets from: the client's own start when its stamp is on
    this machine's monotonic clock (the loop's clock), else the request's arrival.

    Recorded offsets count from the client's start, so counting from the arrival would add
    this request's own trip to times that already hold the recorded one's.
    """
    try:
        started = float(header) if header else None
    except ValueError:
        return arrived
    if started is None or not 0 <= arrived - started <= _PLAUSIBLE_S:
        return arrived
    return started


def is_replay(model: str) -> bool:
    return model.startswith(PREFIX)
