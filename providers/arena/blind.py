"""The blind arena without a screen: the shuffled order, the letters, what a vote key means.

An arena race runs its models in a shuffled order and the panels follow it, A on the left:
neither a panel's place nor its letter says which model it is. The order holds for a whole
conversation; each turn is still voted on by itself. Keys name panels by place
(1 is A), so the same keys vote in a normal race, where nothing is hidden.
"""

from __future__ import annotations

import random
import string
from collections.abc import Mapping, Sequence

from providers.arena.votes import Vote, VoteRefused

# What the vote keys other than 1–9 stand for.
TIE, ALL_BAD = "tie", "all_bad"


def letter(index: int) -> str:
    """A, B, … Z for the first 26 panels; past those, Z27, Z28 … (still one per panel)."""
    letters = string.ascii_uppercase
    return letters[index] if index < len(letters) else f"Z{index + 1}"


class Shuffler:
    """A new order for every conversation; a seed makes the sequence of orders repeatable
    (tests).

    A follow-up keeps the order (and so the letters) of the turn before, as LMArena keeps its
    pair fixed across a conversation: a letter means one model for the whole chat. A new
    conversation, or another set of models, is shuffled anew.
    """

    def __init__(self, seed: int | None = None) -> None:
        self._random = random.Random(seed)
        self._kept: tuple[object, list[str]] | None = None

    def order(self, specs: Sequence[str], conversation: object | None = None) -> list[str]:
        """`specs` in the order to show them; `conversation`: the one this race belongs to
        (compared by identity), None for a race that belongs to none."""
        if conversation is not None and self._kept is not None:
            owner, kept = self._kept
            if owner is conversation and sorted(kept) == sorted(specs):
                return list(kept)
        shuffled = list(specs)
        self._random.shuffle(shuffled)
        self._kept = None if conversation is None else (conversation, shuffled)
        return shuffled


def ballot(choice: str, models: Sequence[str], race_id: int, *, blind: bool, turn: int = 0) -> Vote:
    """The vote a key casts over the panels' models, in panel order: "1"–"9" (or any panel
    number) a win for that panel, TIE or ALL_BAD. A panel that is not there is refused."""
    shown = tuple(models)
    if choice in (TIE, ALL_BAD):
        return Vote(race_id, shown, choice, turn=turn, blind=blind)
    try:
        number = int(choice)
    except ValueError:
        raise VoteRefused(f"unknown vote {choice!r}") from None
    if not 1 <= number <= len(shown):
        which = "no panels" if not shown else f"panels 1–{len(shown)}"
        raise VoteRefused(f"no panel {number} to vote for: this race has {which}")
    return Vote(race_id, shown, "win", shown[number - 1], turn=turn, blind=blind)


def describe(vote: Vote, letters: Mapping[str, str] | None = None) -> str:
    """One line for the notice after a vote: what was kept. `letters`: spec → arena letter."""
    named = letters or {}

    def name(spec: str) -> str:
        return f"{named[spec]} · {spec}" if spec in named else spec

    if vote.verdict == "win" and vote.winner is not None:
        what = f"{name(vote.winner)} wins"
    elif vote.verdict == TIE:
        what = "a tie"
    else:
        what = "all bad"
    how = "blind" if vote.blind else "not blind"
    return f"Vote kept for race {vote.race_id} ({how}): {what}"
