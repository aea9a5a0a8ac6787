"""Conversations: a race that follows earlier ones, each model hearing only its own answers.

Each turn is its own race (stored with `parent_id` and `turn`). A model's history is every
earlier turn it answered: the prompt and its own text, never another model's. A turn it did
not answer (failed before any text, or answered nothing) is left out of its history, prompt
and all: no answer is made up for it, and the messages keep the user/assistant alternation
Anthropic and Gemini require. Text that arrived before a failure or a cancel is kept, as the
panel showed it. A model that joins later starts from the turn it joins, with no history.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from providers.pricing import NO_COST, CostSum, add_costs, cost_sum
from providers.record import Result, Run
from providers.request import Exchange, FollowUp


@dataclass
class Turn:
    """One turn: its prompt, each model's answer text (by spec), what its requests cost (kept
    here so a conversation's total needs no store read), and its stored id once kept."""

    number: int
    prompt: str
    answers: dict[str, str] = field(default_factory=dict)
    race_id: int | None = None
    cost: CostSum = NO_COST


def answer_of(runs: Sequence[Run[Any]], spec: str) -> str:
    """A model's answer in a race: from the last side it answered in full (a both race asks
    it twice), else the last text that arrived at all; "" when none did."""
    results: list[Result] = [r for run in runs for r in run.results if r.source == spec]
    for result in reversed(results):
        if result.ok and result.text.strip():
            return result.text
    for result in reversed(results):
        if result.text.strip():
            return result.text
    return ""


class Conversation:
    """The turns so far, oldest first; empty: the next race is a fresh question (turn 1)."""

    def __init__(self, turns: Iterable[Turn] = ()) -> None:
        self.turns = list(turns)

    def __len__(self) -> int:
        return len(self.turns)

    @property
    def next_turn(self) -> int:
        return self.turns[-1].number + 1 if self.turns else 1

    @property
    def models(self) -> list[str]:
        """Every model that answered some turn, in the order they first appeared."""
        seen: dict[str, None] = {}
        for turn in self.turns:
            seen.update(dict.fromkeys(turn.answers))
        return list(seen)

    @property
    def cost(self) -> CostSum:
        """Every turn's requests together: a bound (never a guess) while any price is unknown."""
        return add_costs(turn.cost for turn in self.turns)

    def history_for(self, spec: str) -> tuple[Exchange, ...]:
        return tuple(
            Exchange(turn.prompt, turn.answers[spec])
            for turn in self.turns
            if turn.answers.get(spec, "").strip()
        )

    def newcomers(self, specs: Iterable[str]) -> list[str]:
        """Models that took no part so far: they start from the next turn, with no history."""
        if not self.turns:
            return []
        known = set(self.models)
        return [spec for spec in specs if spec not in known]

    def follow_up(self, specs: Iterable[str]) -> FollowUp:
        """What the next race of `specs` needs: its turn, its parent, each model's history."""
        parent = self.turns[-1].race_id if self.turns else None
        histories = {spec: self.history_for(spec) for spec in specs}
        return FollowUp(self.next_turn, parent, {s: h for s, h in histories.items() if h})

    def add(self, prompt: str, runs: Sequence[Run[Any]], *, number: int | None = None) -> Turn:
        """Record a finished race as the next turn (the texts are read now, from memory)."""
        specs = dict.fromkeys(r.source for run in runs for r in run.results)
        turn = Turn(
            self.next_turn if number is None else number,
            prompt,
            {spec: answer_of(runs, spec) for spec in specs},
            cost=cost_sum(r for run in runs for r in run.results),
        )
        self.turns.append(turn)
        return turn

    @classmethod
    def from_stored(cls, chain: Sequence[Any]) -> Conversation:
        """From stored races, oldest first (`providers.store.conversation`'s chain)."""
        conversation = cls()
        for race in chain:
            turn = conversation.add(race.prompt, race.runs, number=max(race.turn, 1))
            turn.race_id = race.id
        return conversation


def turn_label(number: int) -> str:
    return f"turn {number}"
