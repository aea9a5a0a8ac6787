"""Help: every key, and what the dashboard is showing."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    """Every key, and what the dashboard is showing."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,f1,q", "close", "Close")]

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__(classes="modal")
        self.keys = keys

    def compose(self) -> ComposeResult:
        table = Text()
        for key, description in self.keys:
            table.append(f"{key:>14}  ", style="bold")
            table.append(f"{description}\n")
        table.append(
            "\nThe timeline draws one bar per model per run: yellow waits for the first token, "
            "green streams, blue is done, red failed, grey was cancelled. A sync run is a "
            "staircase; an async run is a stack. Speedup is sync wall ÷ async wall; the status "
            "bar shows it with both walls. On a small terminal the timeline shows the newest "
            "pair, sync in the upper half of each row (▀) and async in the lower (▄), and the "
            "panels are paged (ctrl+n).\n"
            "The loop lag meter shows how late the event loop wakes; if it spikes, something "
            "blocked it.\n"
            "Blind arena (f4, or modelrace --arena): every model runs at once (async only: "
            "sync-versus-async timing is not the point), the panels in a random order lettered "
            "A, B, C… Names, speed figures and the timeline stay hidden until you vote: 1–9 for "
            "panel 1–9 (A = 1), = a tie, 0 all bad. The race ends with focus on the panels, so "
            "a digit votes; in the prompt digits are typed, so use Tab first or alt+digit. A "
            "normal race can be voted on the same way; its vote is kept as not blind.",
            style="dim",
        )
        with Vertical(classes="dialog"):
            yield Static("modelrace keys", classes="dialog-title")
            yield Static(table, markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
