"""The prompt editor: Enter sends, ctrl+j adds a line, up/down at the edges browse history."""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import TextArea

from tui.history import PromptHistory


class PromptBox(TextArea):
    """A multi-line TextArea whose Enter sends instead of breaking the line."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "send", "Send", priority=False),
        Binding("ctrl+j,shift+enter", "newline", "Newline"),
    ]

    class Send(Message):
        def __init__(self, prompt: str) -> None:
            super().__init__()
            self.prompt = prompt

    def __init__(self, history: PromptHistory, *, id: str | None = None) -> None:
        super().__init__(
            id=id,
            soft_wrap=True,
            show_line_numbers=False,
            tab_behavior="focus",
            placeholder="Ask every model at once…  Enter sends · ctrl+j new line · ↑ history",
        )
        self.prompts = history

    async def _on_key(self, event: events.Key) -> None:
        key = event.key
        handled = True
        if key == "enter":
            self.action_send()
        elif key in ("ctrl+j", "shift+enter"):
            self.action_newline()
        elif key == "up" and self.cursor_location[0] == 0 and not self.selected_text:
            handled = self._recall(self.prompts.previous(self.text))
        elif key == "down" and self.cursor_location[0] == self.document.line_count - 1:
            handled = self._recall(self.prompts.next())
        else:
            handled = False
        if handled:
            event.stop()
            event.prevent_default()

    def _recall(self, text: str | None) -> bool:
        if text is None:
            return False
        self.load_text(text)
        self.move_cursor(self.document.end)
        return True

    def action_send(self) -> None:
        self.post_message(self.Send(self.text))

    def action_newline(self) -> None:
        start, end = self.selection
        self._replace_via_keyboard("\n", start, end)
