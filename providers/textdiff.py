"""Word-level diff of two answers, as wdiff shows it, with `difflib` doing the matching.

Words are compared, whitespace is not: two answers that differ only in line breaks or
spacing are the same answer. Each side keeps its own whitespace, so joining a side's pieces
gives back its text exactly, and the dashboard can lay both out as the models wrote them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal

Kind = Literal["equal", "delete", "insert"]

_WORD = re.compile(r"(\S+)(\s*)")


@dataclass(frozen=True, slots=True)
class Piece:
    """A run of one side's text; `kind` says whether only this side has it."""

    kind: Kind
    text: str


@dataclass(frozen=True, slots=True)
class WordDiff:
    """Both sides as pieces (A: equal and delete; B: equal and insert) and the wdiff line."""

    left: list[Piece]
    right: list[Piece]
    unified: list[Piece]
    deleted: int  # words only A has
    inserted: int  # words only B has
    same: int  # words both have

    @property
    def similarity(self) -> float:
        """Share of the words the two answers have in common (difflib's ratio, over words)."""
        total = 2 * self.same + self.deleted + self.inserted
        return 1.0 if total == 0 else 2 * self.same / total

    def summary(self) -> str:
        words = "word" if self.deleted == 1 else "words"
        return (
            f"{self.deleted} {words} deleted, {self.inserted} inserted, "
            f"{self.same} in common ({round(100 * self.similarity)}% alike)"
        )


def _tokens(text: str) -> tuple[str, list[tuple[str, str]]]:
    """Leading whitespace, then (word, the whitespace after it) pairs."""
    lead = text[: len(text) - len(text.lstrip())]
    return lead, _WORD.findall(text, len(lead))


def _span(kind: Kind, tokens: list[tuple[str, str]]) -> list[Piece]:
    """A run of changed words; the whitespace after the last one is not part of the change."""
    if not tokens:
        return []
    body = "".join(w + s for w, s in tokens[:-1]) + tokens[-1][0]
    pieces = [Piece(kind, body)]
    if tokens[-1][1]:
        pieces.append(Piece("equal", tokens[-1][1]))
    return pieces


def _join(pieces: list[Piece]) -> list[Piece]:
    """Neighbouring pieces of the same kind as one (fewer, longer styled runs)."""
    out: list[Piece] = []
    for piece in pieces:
        if out and out[-1].kind == piece.kind:
            out[-1] = Piece(piece.kind, out[-1].text + piece.text)
        elif piece.text:
            out.append(piece)
    return out


def word_diff(a: str, b: str) -> WordDiff:
    """How B differs from A, word by word."""
    lead_a, ta = _tokens(a)
    lead_b, tb = _tokens(b)
    matcher = SequenceMatcher(None, [w for w, _ in ta], [w for w, _ in tb], autojunk=False)
    left = [Piece("equal", lead_a)]
    right = [Piece("equal", lead_b)]
    unified = [Piece("equal", lead_b)]
    deleted = inserted = same = 0
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            same += a1 - a0
            left.append(Piece("equal", "".join(w + s for w, s in ta[a0:a1])))
            right.append(Piece("equal", "".join(w + s for w, s in tb[b0:b1])))
            unified.append(right[-1])
            continue
        deleted += a1 - a0
        inserted += b1 - b0
        left += _span("delete", ta[a0:a1])
        right += _span("insert", tb[b0:b1])
        unified += _span("delete", ta[a0:a1])[:1] + _span("insert", tb[b0:b1])
    return WordDiff(_join(left), _join(right), _spaced(_join(unified)), deleted, inserted, same)


def _spaced(pieces: list[Piece]) -> list[Piece]:
    """One space between a change and a neighbour it would otherwise touch, as wdiff has it:
    the unified line holds B's whitespace, and a deleted word had its own in A."""
    out: list[Piece] = []
    for piece in pieces:
        touching = out and not out[-1].text[-1:].isspace() and not piece.text[:1].isspace()
        if touching:
            out.append(Piece("equal", " "))
        out.append(piece)
    return _join(out)


def wdiff(diff: WordDiff) -> str:
    """The unified diff in wdiff's plain markers: `[-deleted-]` and `{+inserted+}`."""
    marks = {"equal": ("", ""), "delete": ("[-", "-]"), "insert": ("{+", "+}")}
    return "".join(marks[p.kind][0] + p.text + marks[p.kind][1] for p in diff.unified)
