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
    lines = LineWrap(width)
    lines.extend(line)
    return lines.rows()


# Where the text after a wrapper's checkpoint starts: at a word; inside a word being cut into
# rows (only cutting goes on); or after a placed word whose further spaces are dropped.
_START, _CUT, _SKIP = range(3)
_SPACES = re.compile(r"\s*")


def _place(
    word: str, width: int, current: str, used: int, cutting: bool, rows: list[str]
) -> tuple[str, int, int]:
    """One word onto the row being filled: (row, cells used, where a checkpoint after it
    would stand, or _START when the word must be placed again if it grows)."""
    if not cutting:
        w = cell_len(word)
        if used + w <= width:
            return current + word, used + w, _START
        bare = word.rstrip()
        if current and used + cell_len(bare) <= width:
            rows.append(current + bare)
            return "", 0, _SKIP
        if current:
            rows.append(current.rstrip())
    else:
        bare = word.rstrip()
    pieces = _chop(bare, width) or [""]
    rows.extend(pieces[:-1])
    current = pieces[-1]
    used = cell_len(current)
    if bare == word:
        return current, used, _CUT
    if used < width:
        current += " "
        used += 1
    return current, used, _SKIP


class LineWrap:
    """One growing logical line, word-wrapped as it grows, with `wrap`'s exact rows.

    Greedy wrapping looks back no further than the unfinished last word, so the wrapper keeps
    a checkpoint before it and each `extend` wraps only that word and the new text: a
    50,000-token line without a newline costs no more per poll than a short one. `wrapped`
    counts the characters run through it, the measure of that work.
    """

    def __init__(self, width: int) -> None:
        self.width = max(1, width)
        self.wrapped = 0
        self._done: list[str] = []  # rows no later text can change
        self._current, self._used, self._mode = "", 0, _START  # the checkpoint
        self._pending = ""  # text after the checkpoint
        self._shown: list[str] = []  # rows after `_done` for the pending and preview text

    def __len__(self) -> int:
        return len(self._done) + len(self._shown)

    @property
    def settled(self) -> int:
        """Rows that later text cannot change."""
        return len(self._done)

    def row(self, index: int) -> str:
        done = self._done
        return done[index] if index < len(done) else self._shown[index - len(done)]

    def rows(self) -> list[str]:
        return [*self._done, *self._shown]

    def extend(self, text: str, preview: str = "") -> None:
        """Append `text` for good, and show `preview` after it until the next call (text that
        may still change, such as the end of a line a key could still be arriving in)."""
        src, mode = self._start(self._pending + text)
        current, used = self._current, self._used
        words = _WORD.findall(src)
        for word in words[:-1]:
            current, used, _ = _place(word, self.width, current, used, mode == _CUT, self._done)
            mode = _START
        pending = ""
        if words:
            last = words[-1]
            mark = len(self._done)
            cut = mode == _CUT
            after = _place(last, self.width, current, used, cut, self._done)
            if after[2] == _START:
                del self._done[mark:]
                pending = last
            elif after[2] == _CUT:
                current, used, mode, pending = "", 0, _CUT, after[0]
            else:
                current, used, mode = after
        self._current, self._used, self._mode, self._pending = current, used, mode, pending
        self._show(preview)

    def _start(self, src: str) -> tuple[str, int]:
        self.wrapped += len(src)
        mode = self._mode
        if mode == _SKIP:
            match = _SPACES.match(src)
            skip = match.end() if match else 0
            if skip < len(src):
                return src[skip:], _START
            return "", _SKIP
        return src, mode

    def _show(self, preview: str) -> None:
        src, mode = self._start(self._pending + preview)
        current, used = self._current, self._used
        rows: list[str] = []
        for word in _WORD.findall(src):
            current, used, _ = _place(word, self.width, current, used, mode == _CUT, rows)
            mode = _START
        if current or not (self._done or rows):
            rows.append(current)
        self._shown = rows
