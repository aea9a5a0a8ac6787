"""Modal screens: settings, the model picker, and help. Each validates before it closes,
so a bad value gives a notification and nothing typed is lost."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, SelectionList, Static

from providers.config import Config
from providers.request import SettingsError, check_settings


@dataclass(frozen=True, slots=True)
class Settings:
    """Request settings shared by every model in a run, plus the `limit N` of that mode."""

    system: str = ""
    temperature: float | None = None
    max_tokens: int | None = None
    timeout: float | None = None
    limit: int = 3


MAX_LIMIT = 64


def parse_settings(
    system: str, temperature: str, max_tokens: str, timeout: str, limit: str
) -> Settings:
    """Validate the form's strings; blank means "the provider's default"."""

    def number(text: str, name: str, kind: type) -> object:
        text = text.strip()
        if not text:
            return None
        try:
            return kind(text)
        except ValueError:
            raise SettingsError(f"{name} must be a number, not {text!r}") from None

    limit_value = number(limit, "limit", int)
    settings = Settings(
        system=system.strip(),
        temperature=number(temperature, "temperature", float),  # type: ignore[arg-type]
        max_tokens=number(max_tokens, "max_tokens", int),  # type: ignore[arg-type]
        timeout=number(timeout, "timeout", float),  # type: ignore[arg-type]
        limit=3 if limit_value is None else limit_value,  # type: ignore[arg-type]
    )
    check_settings(settings.temperature, settings.max_tokens, settings.timeout)
    if not 1 <= settings.limit <= MAX_LIMIT:
        raise SettingsError(f"limit must be between 1 and {MAX_LIMIT}, not {settings.limit}")
    return settings


def _text(value: object) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


class SettingsScreen(ModalScreen[Settings | None]):
    """System prompt, temperature, max tokens, timeout and the concurrency limit."""

    AUTO_FOCUS = "#system"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss_none", "Close"),
        Binding("ctrl+s", "save", "Save"),
    ]

    def __init__(self, settings: Settings) -> None:
        super().__init__(classes="modal")
        self.settings = settings

    def compose(self) -> ComposeResult:
        s = self.settings
        with Vertical(classes="dialog"):
            yield Static("Settings", classes="dialog-title")
            yield Label("System prompt")
            yield Input(s.system, id="system", placeholder="none")
            yield Label("Temperature (0–2, blank = provider default)")
            yield Input(_text(s.temperature), id="temperature", placeholder="default")
            yield Label("Max tokens (blank = provider default)")
            yield Input(_text(s.max_tokens), id="max_tokens", placeholder="default")
            yield Label("Timeout per request, seconds (blank = none)")
            yield Input(_text(s.timeout), id="timeout", placeholder="none")
            yield Label("Concurrency limit for the limit N mode")
            yield Input(str(s.limit), id="limit")
            with Horizontal(classes="buttons"):
                yield Button("Save", id="save", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_input_submitted(self) -> None:
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.dismiss(None)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)

    def action_save(self) -> None:
        values = {w.id: w.value for w in self.query(Input)}
        try:
            settings = parse_settings(
                values["system"],
                values["temperature"],
                values["max_tokens"],
                values["timeout"],
                values["limit"],
            )
        except SettingsError as exc:
            self.notify(str(exc), title="Invalid setting", severity="error")
            return
        self.dismiss(settings)


@dataclass(frozen=True, slots=True)
class ModelChoice:
    spec: str
    enabled: bool


class ModelPickerScreen(ModalScreen[list[ModelChoice] | None]):
    """Toggle models on and off, or add a spec; a spec that cannot work is refused."""

    AUTO_FOCUS = "#models"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "done", "Done"),
        Binding("ctrl+s", "done", "Done", show=False),
    ]

    def __init__(self, choices: list[ModelChoice], config: Config) -> None:
        super().__init__(classes="modal")
        self.choices = list(choices)
        self.config = config

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Models", classes="dialog-title")
            yield Label("Space toggles a model; Esc applies and closes.")
            yield SelectionList[str](
                *[(Text(c.spec), c.spec, c.enabled) for c in self.choices], id="models"
            )
            yield Label("Add a model (PROVIDER:MODEL, e.g. sim:fast,tps=50) and press Enter")
            yield Input(id="add", placeholder="sim:hosted")
            with Horizontal(classes="buttons"):
                yield Button("Done", id="done", variant="primary")

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        await self.add_spec(event.value)

    async def add_spec(self, text: str) -> bool:
        from providers import SpecError, make_adapter

        spec_text = text.strip()
        if not spec_text:
            return False
        try:
            adapter = make_adapter(spec_text, self.config)
            # Some checks touch the network (is Ollama up?): never on the event loop.
            problem = await asyncio.to_thread(adapter.problem)
        except SpecError as exc:
            self.notify(str(exc), title="Unknown model", severity="error")
            return False
        if problem:
            self.notify(problem, title=f"Cannot use {spec_text}", severity="error")
            return False
        spec = str(adapter.spec)
        selection = self.query_one("#models", SelectionList)
        if spec in [c.spec for c in self.choices]:
            selection.select(spec)
        else:
            self.choices.append(ModelChoice(spec, True))
            selection.add_option((Text(spec), spec, True))
        self.query_one("#add", Input).value = ""
        return True

    def on_button_pressed(self) -> None:
        self.action_done()

    def action_done(self) -> None:
        selected = set(self.query_one("#models", SelectionList).selected)
        self.dismiss([replace(c, enabled=c.spec in selected) for c in self.choices])


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
            "staircase; an async run is a stack. Speedup is sync wall ÷ async wall.\n"
            "The loop lag meter shows how late the event loop wakes; if it spikes, something "
            "blocked it.",
            style="dim",
        )
        with Vertical(classes="dialog"):
            yield Static("modelrace keys", classes="dialog-title")
            yield Static(table, markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
