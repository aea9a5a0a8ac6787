"""The leaderboard screen: the same table as `modelrace leaderboard`, fitted in a thread.

Reading the votes and the speed figures, and the bootstrap's few hundred refits, take from
milliseconds to a second or so: all of it runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from providers.arena.leaderboard import Leaderboard, leaderboard
from providers.store import StoreError, default_path
from tui.commands.leaderboard import COLUMNS, RIGHT, empty_line, footnote, rows
from tui.text import visible

KEYS = "b shows blind votes only / all votes · Esc closes"


class LeaderboardScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("b", "toggle_blind", "Blind only"),
    ]

    def __init__(self) -> None:
        super().__init__(classes="modal")
        self.blind_only = False

    def compose(self) -> ComposeResult:
        with Vertical(id="leaderboard-dialog"):
            yield Static("Leaderboard", classes="dialog-title")
            table: DataTable[Text] = DataTable(id="leaderboard-table", cursor_type="row")
            table.add_columns(
                *(Text(c, justify="right" if i in RIGHT else "left") for i, c in enumerate(COLUMNS))
            )
            yield table
            yield Static("fitting…", id="leaderboard-status", markup=False)
            yield Static(KEYS, id="leaderboard-keys", markup=False)

    def on_mount(self) -> None:
        self.refresh_board()

    def say(self, message: str) -> None:
        self.query_one("#leaderboard-status", Static).update(Text(visible(message)))

    @work(thread=True, exclusive=True, group="leaderboard")
    def refresh_board(self) -> None:
        blind_only = self.blind_only
        try:
            board = leaderboard(blind_only=blind_only)
        except StoreError as exc:
            if not get_current_worker().is_cancelled:
                self.app.call_from_thread(self.say, str(exc))
            return
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.show, board)

    def show(self, board: Leaderboard) -> None:
        table = self.query_one("#leaderboard-table", DataTable)
        table.clear()
        for cells in rows(board):
            table.add_row(
                *(
                    Text(visible(c), justify="right" if i in RIGHT else "left")
                    for i, c in enumerate(cells)
                )
            )
        if board.standings:
            self.say(footnote(board))
        else:
            self.say(empty_line(board.blind_only, str(default_path())))

    def action_toggle_blind(self) -> None:
        self.blind_only = not self.blind_only
        self.say("fitting…")
        self.refresh_board()

    def action_close(self) -> None:
        self.dismiss(None)
