"""Model output as plain text: control bytes made visible, and cheap incremental wrapping.

Model output is data, never markup or terminal control: every C0/C1 control except newline
becomes a visible stand-in (ESC shows as ␛), so `\\x1b[2J` is drawn, not obeyed.
"""

from __future__ import annotations

import re

from rich.cells import cell_len

_TABLE: dict[int, str | None] = {c: chr(0x2400 + c) for c in range(32)}
_TABLE[0x0A] = "\n"
_TABLE[0x09] = "    "
_TABLE[0x0D] = None
_TABLE[0x7F] = "␡"
_TABLE.update({c: "�" for c in range(0x80, 0xA0)})
# Bidi overrides and isolates could reorder what follows them on screen.
_TABLE.update({c: "�" for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))})

_WORD = re.compile(r"\S+\s*|\s+")


def visible(text: str) -> str:
    """Text with control characters replaced by visible stand-ins; newlines kept."""
    return text.translate(_TABLE)


def _chop(word: str, width: int) -> list[str]:
    if word.isascii():
        return [word[i : i + width] for i in range(0, len(word), width)]
    pieces, current, used = [], "", 0
    for char in word:
        w = cell_len(char)
        if used + w > width and current:
            pieces.append(current)
            current, used = "", 0
        current += char
        used += w
    if current:
        pieces.append(current)
    return pieces


def wrap(line: str, width: int) -> list[str]:
    """Greedy word wrap of one logical line (no newlines) into rows of at most `width` cells."""
    width = max(1, width)
    if (len(line) <= width and line.isascii()) or cell_len(line) <= width:
        return [line]
    rows: list[str] = []
    current, used = "", 0
    for word in _WORD.findall(line):
        w = cell_len(word)
        if used + w <= width:
            current += word
            used += w
            continue
        bare = word.rstrip()
        bare_w = cell_len(bare)
        if current and used + bare_w <= width:
            rows.append(current + bare)
            current, used = "", 0
            continue
        if current:
            rows.append(current.rstrip())
        pieces = _chop(bare, width) or [""]
        rows.extend(pieces[:-1])
        current = pieces[-1]
        used = cell_len(current)
        if bare != word and used < width:
            current += " "
            used += 1
    if current or not rows:
        rows.append(current)
    return rows
