"""The dashboard's blind arena and its votes; tui/app.py only wires keys to it.

In the arena a race runs every model at once (async) in a shuffled order, its panels
lettered A, B, C… left to right; a follow-up keeps its conversation's order and letters, a
new chat (f5) or another set of models shuffles again. Until a vote the race is sealed:
titles show letters only, status lines only the state, the timeline and the status bar's
speed figures are hidden, and screens that would name the models are refused. A vote (1–9,
`=` a tie, `0` all bad) is kept in the run store off the event loop and then the names are
shown. A normal race is voted on with the same keys, marked not blind.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.binding import Binding

from providers.arena.blind import ALL_BAD, TIE, Shuffler, ballot, describe, letter
from providers.arena.votes import Vote, VoteRefused, record_vote
from providers.store import StoreError
from tui.widgets.fields import Field, field
from tui.widgets.panel import AnswerPanel

if TYPE_CHECKING:
    from tui.app import ModelRaceApp

ARENA_MODE = "async"
# Keys shown in notices and the status bar (the app binds them).
VOTE_KEYS = "1–9 a panel · = a tie · 0 all bad"


def vote_bindings() -> list[Binding]:
    """1–9, `=` and `0` vote when focus is not in the prompt (there they are typed); alt+1–9
    and alt+0 vote from anywhere, the prompt too, in terminals that send alt as escape."""
    names = {choice: name for name, _, choice in vote_help()}
    keys = [*((str(n), str(n)) for n in range(1, 10)), ("0", ALL_BAD), ("equals_sign", TIE)]
    bindings = []
    for key, choice in keys:
        name = names.get(choice, names["selected"])
        bindings.append(Binding(f"{key},alt+{key}", f"vote({choice!r})", name, show=False))
    return bindings


def vote_help(keys: bool = False) -> list[tuple[str, str, str]]:
    """(name, help, choice) per vote for the palette; with `keys`, (keys, help, choice) for
    the help screen."""
    if keys:
        return [
            ("1–9, alt+1–9", "Vote: panel 1–9 wins (A = 1)", "1"),
            ("=", "Vote: a tie", TIE),
            ("0, alt+0", "Vote: all bad", ALL_BAD),
        ]
    return [
        ("Vote for a panel", "The selected panel's answer wins (keys 1–9 by place)", "selected"),
        ("Vote: tie", "Every answer is as good as the others (=)", TIE),
        ("Vote: all bad", "No answer is any good (0)", ALL_BAD),
    ]


class Arena:
    """Whether the arena is on, which race is sealed, and casting a vote on the race shown."""

    def __init__(self, app: ModelRaceApp, *, on: bool = False, seed: int | None = None) -> None:
        self.app = app
        self.on = on
        self._shuffler = Shuffler(seed)
        self._blind_race: object | None = None
        self._revealed = False
        self._casting: int | None = None
        self._voted: set[int] = set()

    # --- what is hidden -------------------------------------------------------------------

    @property
    def lettered(self) -> bool:
        """The race on screen was run in the arena: its panels carry letters."""
        race = self.app.race
        return race is not None and race is self._blind_race

    @property
    def sealed(self) -> bool:
        """The race on screen is blind and not voted on yet: names and speed stay hidden."""
        return self.lettered and not self._revealed

    def names_shown(self) -> bool:
        """The race on screen ran blind and its names are now shown: a follow-up of its
        conversation could no longer be blind."""
        return self.on and self.lettered and self._revealed

    def order(self, specs: list[str]) -> list[str]:
        """The models in the order the next race runs and shows them."""
        if not self.on:
            return list(specs)
        return self._shuffler.order(specs, self.app.conversation)

    def cannot_start(self, models: int) -> str | None:
        """Why an arena race cannot start with this many models, or None."""
        if self.on and models < 2:
            return "The arena compares two models or more: ctrl+l adds one (f4 leaves it)."
        return None

    def begin(self, race: object) -> None:
        """A race starts: run blind when the arena is on. The panels still on screen are
        hidden at once, before the new race's results reach them."""
        self._blind_race = race if self.on else None
        self._revealed = False
        self.dress(self.app.panels)

    def dress(self, panels: list[AnswerPanel]) -> None:
        """Titles, status lines and the timeline as the race on screen allows."""
        lettered, hidden = self.lettered, self.sealed
        for index, panel in enumerate(panels):
            panel.label(letter(index) if lettered else "", hidden=hidden)
        self.app.timeline.set_class(hidden, "-sealed")

    def reveal(self) -> None:
        self._revealed = True
        self.dress(self.app.panels)
        self.app._show_bar()

    def name_of(self, panel: AnswerPanel) -> str:
        """How notices and file names call a panel's model: its letter while sealed."""
        return panel.letter if self.sealed and panel.letter else panel.spec

    def refusal(self, what: str) -> str | None:
        """Why `what` (a screen that names models) cannot open now, or None."""
        if not self.sealed:
            return None
        return f"Vote first ({VOTE_KEYS}), or leave the arena: {what} would name the models."

    # --- the status bar -----------------------------------------------------------------------

    def mode_label(self, mode: str) -> str:
        return f"arena ({ARENA_MODE})" if self.on else f"mode {mode}"

    def bar_fields(self) -> list[Field]:
        if not self.sealed:
            return []
        return [field(f"blind: vote {VOTE_KEYS}", 1, "bold")]

    # --- switching ----------------------------------------------------------------------------

    def toggle(self) -> None:
        app = self.app
        if app.racing:
            app.notify("The arena can be switched once this run ends (Esc cancels it).")
            return
        self.on = not self.on
        if self.on:
            app.notify(
                f"Arena on: the next race runs blind, every model at once ({ARENA_MODE}); "
                f"vote with {VOTE_KEYS}."
            )
        elif self.sealed:
            self._revealed = True
            app.notify("Arena off: names shown; a vote on this race now counts as not blind.")
        else:
            app.notify("Arena off.")
        self.dress(app.panels)
        app._show_bar()

    def race_over(self) -> None:
        """A sealed race ended: take focus out of an empty prompt so 1–9 vote at once."""
        app = self.app
        panels = app.panels
        if self.sealed and panels and app.focused is app.prompt_box and not app.prompt_box.text:
            panels[min(app.selected, len(panels) - 1)].view.focus()

    # --- voting -------------------------------------------------------------------------------

    def cast(self, choice: str) -> None:
        """Vote on the race on screen: "1"…"9" (a panel by place), TIE, ALL_BAD or
        "selected" (the selected panel). Refused with a one-line notice when it cannot be."""
        app = self.app
        if choice == "selected":
            choice = str(app.selected + 1)
        why = self._cannot_vote()
        if why is not None:
            app.notify(why, title="No vote", severity="warning", markup=False)
            return
        run, race_id = app.shown_run, app.stored_id
        assert run is not None and race_id is not None
        try:
            turn = next((t.number for t in app.conversation.turns if t.race_id == race_id), 1)
            models = [r.source for r in run.results]
            vote = ballot(choice, models, race_id, blind=self.sealed, turn=turn)
        except VoteRefused as exc:
            app.notify(str(exc), title="No vote", severity="warning", markup=False)
            return
        letters = {spec: letter(i) for i, spec in enumerate(vote.models)} if self.lettered else {}
        self._casting = race_id
        app.run_worker(
            partial(self._record, vote, letters),
            thread=True,
            group="vote",
            exit_on_error=False,
        )

    def _cannot_vote(self) -> str | None:
        app = self.app
        if app.racing:
            return "The race is still running: vote once it has finished."
        panels = app.panels
        if app.shown_run is None or not panels or any(p.result is None for p in panels):
            return "No race to vote on yet: send a prompt first."
        if app.shown_run.label:
            return "A pipeline pass cannot be voted on: votes compare models."
        race_id = app.stored_id
        if race_id is None:
            if any(w.group == "store" and w.is_running for w in app.workers):
                return "The race is still being saved: vote again in a moment."
            return "This race is not in the run store, so a vote on it cannot be kept."
        if race_id == self._casting:
            return f"A vote on race {race_id} is being kept."
        if race_id in self._voted:
            return f"Race {race_id} already has a vote."
        return None

    def _record(self, vote: Vote, letters: dict[str, str]) -> None:
        """In a worker thread: the run store."""
        try:
            record_vote(vote)
        except (VoteRefused, StoreError) as exc:
            self.app.call_from_thread(self._refused, vote, str(exc))
        else:
            self.app.call_from_thread(self._kept, vote, letters)

    def _refused(self, vote: Vote, message: str) -> None:
        self._casting = None
        self.app.notify(message, title="No vote", severity="warning", markup=False)

    def _kept(self, vote: Vote, letters: dict[str, str]) -> None:
        app = self.app
        self._casting = None
        self._voted.add(vote.race_id)
        if app.stored_id == vote.race_id and self.sealed:
            self.reveal()
            app.prompt_box.focus()
        app.notify(describe(vote, letters), title="Vote", markup=False)


__all__ = ["ARENA_MODE", "VOTE_KEYS", "Arena", "vote_bindings", "vote_help"]
