"""The diff screen: two answers side by side, word by word, deletions and insertions coloured.

It takes any list of (label, text) answers, so panels, turns of a conversation or stored
races can all be compared; the dashboard opens it on the selected panel and the next one,
and offers each model's earlier turns of the conversation after the panels.
Both sides sit in one scroll, so they move together. Model text goes in as `Text` with
styles, never as markup: an answer holding `[bold]` or an escape sequence is shown as written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from providers.arena.conversation import Turn, turn_label
from providers.textdiff import Piece, word_diff
from tui.commands.store import styled_diff

if TYPE_CHECKING:
    from tui.app import ModelRaceApp

KEYS = "a / b: another answer on that side · s swaps them · ↑ ↓ scroll · Esc closes"


class DiffScreen(ModalScreen[None]):
    """Answer `first` (A) against answer `second` (B) of `answers`."""

    AUTO_FOCUS = "#diff-scroll"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("a", "next('a')", "Next A"),
        Binding("b", "next('b')", "Next B"),
        Binding("s", "swap", "Swap"),
    ]

    def __init__(self, answers: Sequence[tuple[str, str]], first: int = 0, second: int = 1):
        super().__init__(classes="modal")
        self.answers = list(answers)
        self.first = first % len(self.answers)
        self.second = second % len(self.answers)

    def compose(self) -> ComposeResult:
        with Vertical(id="diff-dialog"):
            yield Static("Diff", classes="dialog-title")
            yield Static("", id="diff-summary", markup=False)
            with VerticalScroll(id="diff-scroll"), Horizontal(id="diff-sides"):
                with Vertical(classes="diff-side"):
                    yield Static("", id="diff-label-a", classes="diff-label", markup=False)
                    yield Static("", id="diff-a", markup=False)
                with Vertical(classes="diff-side"):
                    yield Static("", id="diff-label-b", classes="diff-label", markup=False)
                    yield Static("", id="diff-b", markup=False)
            yield Static(KEYS, id="diff-keys", markup=False)

    def on_mount(self) -> None:
        self.show()

    def show(self) -> None:
        (label_a, _), (label_b, _) = self.answers[self.first], self.answers[self.second]
        self.query_one("#diff-label-a", Static).update(
            styled_diff([Piece("equal", "A: "), Piece("delete", label_a)])
        )
        self.query_one("#diff-label-b", Static).update(
            styled_diff([Piece("equal", "B: "), Piece("insert", label_b)])
        )
        self.query_one("#diff-summary", Static).update(Text("comparing…"))
        self.compare(self.answers[self.first][1], self.answers[self.second][1])

    @work(exclusive=True, group="diff")
    async def compare(self, text_a: str, text_b: str) -> None:
        """In a thread: two answers of thousands of words take difflib most of a second."""
        diff = await asyncio.to_thread(word_diff, text_a, text_b)
        self.query_one("#diff-summary", Static).update(Text(diff.summary()))
        self.query_one("#diff-a", Static).update(_body(diff.left, "(no answer)"))
        self.query_one("#diff-b", Static).update(_body(diff.right, "(no answer)"))

    def action_next(self, side: str) -> None:
        if side == "a":
            self.first = (self.first + 1) % len(self.answers)
        else:
            self.second = (self.second + 1) % len(self.answers)
        self.show()

    def action_swap(self) -> None:
        self.first, self.second = self.second, self.first
        self.show()

    def action_close(self) -> None:
        self.dismiss(None)


def _body(pieces: list[Piece], empty: str) -> Text:
    if not any(p.text.strip() for p in pieces):
        return Text(empty, style="dim")
    return styled_diff(pieces)


def panel_answers(app: ModelRaceApp) -> list[tuple[str, str]]:
    """Each panel's answer as it stands now, labelled with its position and title; then each
    panel's model's earlier turns of the conversation, newest first, so B can be a model's
    own earlier answer."""
    shown, earlier = turns_before_shown(app)
    suffix = f" · {turn_label(shown)}" if earlier else ""
    answers = [
        (f"{i}. {panel.spec}{suffix}", panel.result.text if panel.result is not None else "")
        for i, panel in enumerate(app.panels, 1)
    ]
    for panel in app.panels:
        for turn in reversed(earlier):
            text = turn.answers.get(panel.spec, "")
            if text.strip():
                answers.append((f"{panel.spec} · {turn_label(turn.number)}", text))
    return answers


def turns_before_shown(app: ModelRaceApp) -> tuple[int, list[Turn]]:
    """The turn the panels show, and the conversation's turns before it (none when the panels
    show a pipeline's steps)."""
    from providers.race import Race

    turns = app.conversation.turns
    race = app.race
    if isinstance(race, Race):
        shown = race.follow_up.turn
    elif race is None and turns:
        shown = turns[-1].number  # a reopened stored race: the conversation's last turn
    else:
        return 0, []
    return shown, [turn for turn in turns if turn.number < shown]


def open_diff(app: ModelRaceApp) -> None:
    """The selected panel (A) against the next one (B); a notice when there is nothing to diff."""
    refused = app.arena.refusal("the diff")
    if refused:
        app.notify(refused, severity="warning")
        return
    answers = panel_answers(app)
    if len(answers) < 2:
        app.notify(
            "Diff needs two panels or two turns: press ctrl+l to add a model.",
            severity="warning",
        )
        return
    if not any(text for _, text in answers):
        app.notify("Nothing to diff yet: send a prompt first.", severity="warning")
        return
    first = min(app.selected, len(answers) - 1)
    app.push_screen(DiffScreen(answers, first, first + 1))
