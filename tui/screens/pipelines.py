"""Opening a pipeline file from the dashboard: finding candidates and asking for a path."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

MAX_FILES = 20


def find_pipeline_files(root: Path) -> list[Path]:
    """TOML files with steps in `root` and `root/examples`, for the command palette."""
    found: list[Path] = []
    for folder in (root, root / "examples"):
        try:
            candidates = sorted(folder.glob("*.toml"))
        except OSError:
            continue
        for path in candidates:
            try:
                head = path.read_text(encoding="utf-8", errors="replace")[:20_000]
            except OSError:
                continue
            if "[steps." in head:
                found.append(path)
    return found[:MAX_FILES]


class PipelineOpenScreen(ModalScreen[str | None]):
    """Asks for a pipeline file; the prompt box's text becomes the pipeline's {input}."""

    AUTO_FOCUS = "#path"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, suggestion: str = "") -> None:
        super().__init__(classes="modal")
        self.suggestion = suggestion

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Run a pipeline", classes="dialog-title")
            yield Label("Pipeline file (TOML); Enter runs it with the prompt box as {input}")
            yield Input(self.suggestion, id="path", placeholder="examples/rag.toml")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        path = event.value.strip()
        if not path:
            self.notify("Type the path of a pipeline file.", severity="warning")
            return
        if not Path(path).expanduser().is_file():
            self.notify(f"no such file: {path}", title="Pipeline", severity="error")
            return
        self.dismiss(path)

    def action_close(self) -> None:
        self.dismiss(None)
