"""Chunks stored compactly: their lengths and arrival offsets as packed little-endian uint32.

Replay re-sends the same pieces at the same moments, so both the boundaries and the times
are kept, at 8 bytes a chunk. Offsets are microseconds from the result's own start.
"""

from __future__ import annotations

import difflib
import sys
from array import array
from itertools import accumulate

from providers.environment import redact

_MAX = 2**32 - 1
assert array("I").itemsize == 4, "the stored format is 4-byte unsigned integers"


def pack(values: list[int]) -> bytes:
    try:
        packed = array("I", values)
    except OverflowError:  # a negative offset or a request longer than 71 minutes
        packed = array("I", (min(max(v, 0), _MAX) for v in values))
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tobytes()


def unpack(blob: bytes) -> list[int]:
    values = array("I")
    values.frombytes(blob)
    if sys.byteorder == "big":
        values.byteswap()
    return values.tolist()


def offsets_us(times: list[float], base: float) -> list[int]:
    return [int((t - base) * 1_000_000 + 0.5) for t in times]


def scrubbed(chunks: list[str]) -> tuple[str, list[int]]:
    """The text with keys scrubbed, and chunk lengths that still add up to it.

    A key may be split over several streamed chunks, so the joined text is what gets
    scrubbed; boundaries are then carried across the edit.
    """
    text = "".join(chunks)
    lengths = list(map(len, chunks))
    clean = redact(text)
    if clean == text:
        return text, lengths
    edits = difflib.SequenceMatcher(None, text, clean, autojunk=False).get_opcodes()
    ends = []
    for end in accumulate(lengths):
        for tag, i1, i2, j1, j2 in edits:
            if i1 <= end <= i2:
                ends.append(j1 + (end - i1) if tag == "equal" else (j2 if end == i2 else j1))
                break
    ends[-1] = len(clean)
    return clean, [b - a for a, b in zip([0, *ends[:-1]], ends, strict=True)]


def split(text: str, lengths: list[int]) -> list[str]:
    """The stored text cut back into its chunks."""
    if not lengths:
        return [text] if text else []
    out, at = [], 0
    for n in lengths:
        out.append(text[at : at + n])
        at += n
    if at < len(text):
        out[-1] += text[at:]
    return out
