"""Modal screens: settings, the model picker, and help. Each validates before it closes:
a bad value is named next to its field and nothing typed is lost."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import ClassVar, TypeVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, SelectionList, Static, TextArea

from providers.config import Config, Endpoint
from providers.request import SettingsError, check_retries, check_settings


@dataclass(frozen=True, slots=True)
class Settings:
    """Request settings shared by every model in a run, plus the `limit N` of that mode."""

    system: str = ""
    temperature: float | None = None
    max_tokens: int | None = None
    timeout: float | None = None
    limit: int = 3
    retries: int = 0


MAX_LIMIT = 64
# The form's fields as the user reads them; errors use these names, not the API's.
FIELD_NAMES = {
    "temperature": "Temperature",
    "max_tokens": "Max tokens",
    "timeout": "Timeout",
    "limit": "Concurrency limit",
    "retries": "Retries",
}


class FieldError(SettingsError):
    """A setting that cannot be used, and which field of the form it came from."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


_Num = TypeVar("_Num", int, float)


def _number(text: str, field: str, kind: type[_Num]) -> _Num | None:
    text = text.strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise FieldError(field, f"{FIELD_NAMES[field]} must be a number, not {text!r}") from None


def _checked(
    field: str,
    temperature: float | None = None,
    max_tokens: int | None = None,
    timeout: float | None = None,
) -> None:
    """`check_settings` on one field, its message in the form's words."""
    try:
        check_settings(temperature, max_tokens, timeout)
    except SettingsError as exc:
        message = str(exc)
        name = FIELD_NAMES[field]
        if message.startswith(field):
            message = name + message[len(field) :]
        raise FieldError(field, message) from None


def parse_settings(
    system: str, temperature: str, max_tokens: str, timeout: str, limit: str, retries: str = ""
) -> Settings:
    """Validate the form's strings; blank means "the provider's default"."""
    temp = _number(temperature, "temperature", float)
    _checked("temperature", temperature=temp)
    tokens = _number(max_tokens, "max_tokens", int)
    _checked("max_tokens", max_tokens=tokens)
    seconds = _number(timeout, "timeout", float)
    _checked("timeout", timeout=seconds)
    limit_value = _number(limit, "limit", int)
    limit_value = 3 if limit_value is None else int(limit_value)
    if not 1 <= limit_value <= MAX_LIMIT:
        raise FieldError(
            "limit", f"Concurrency limit must be between 1 and {MAX_LIMIT}, not {limit_value}"
        )
    tries = _number(retries, "retries", int)
    tries = 0 if tries is None else int(tries)
    try:
        check_retries(tries)
    except SettingsError as exc:
        raise FieldError("retries", "R" + str(exc)[1:]) from None
    return Settings(
        system=system.strip(),
        temperature=temp,
        max_tokens=None if tokens is None else int(tokens),
        timeout=seconds,
        limit=limit_value,
        retries=tries,
    )


def _text(value: object) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


class SettingsScreen(ModalScreen[Settings | None]):
    """System prompt, temperature, max tokens, timeout, the concurrency limit, retries."""

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
            yield Label("System prompt (several lines are fine)")
            yield TextArea(s.system, id="system", soft_wrap=True, tab_behavior="focus")
            yield Label("Temperature (0–2, blank = provider default)")
            yield Input(_text(s.temperature), id="temperature", placeholder="default")
            yield self._error("temperature")
            yield Label("Max tokens (blank = provider default)")
            yield Input(_text(s.max_tokens), id="max_tokens", placeholder="default")
            yield self._error("max_tokens")
            yield Label("Timeout per request, seconds (blank = none)")
            yield Input(_text(s.timeout), id="timeout", placeholder="none")
            yield self._error("timeout")
            yield Label("Concurrency limit for the limit N mode")
            yield Input(str(s.limit), id="limit")
            yield self._error("limit")
            yield Label("Retries after a 429, 5xx or connection error (0 = off)")
            yield Input(str(s.retries), id="retries")
            yield self._error("retries")
            with Horizontal(classes="buttons"):
                yield Button("Save", id="save", variant="primary")
                yield Button("Cancel", id="cancel")

    @staticmethod
    def _error(field: str) -> Static:
        error = Static("", id=f"{field}-error", classes="error", markup=False)
        error.display = False
        return error

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
        for error in self.query(".error").results(Static):
            error.display = False
        try:
            settings = parse_settings(
                self.query_one("#system", TextArea).text,
                values["temperature"],
                values["max_tokens"],
                values["timeout"],
                values["limit"],
                values["retries"],
            )
        except FieldError as exc:
            error = self.query_one(f"#{exc.field}-error", Static)
            error.update(str(exc))
            error.display = True
            self.query_one(f"#{exc.field}", Input).focus()
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

    def known_specs(self) -> list[str]:
        """What can be typed without looking anything up: the simulator's models, the
        config's models, and each configured endpoint's prefix."""
        from providers.sim import PROFILES

        specs = [f"sim:{name}" for name in PROFILES]
        specs += [m for m in self.config.models if m not in specs]
        specs += [f"{name}:" for name in self.config.endpoints]
        return specs

    def compose(self) -> ComposeResult:
        known = self.known_specs()
        with Vertical(classes="dialog"):
            yield Static("Models", classes="dialog-title")
            yield Label("Space toggles a model; Esc applies and closes.")
            yield SelectionList[str](
                *[(Text(c.spec), c.spec, c.enabled) for c in self.choices], id="models"
            )
            yield Label("Add a model: PROVIDER:MODEL (e.g. sim:fast,tps=50), then Enter.")
            yield Input(id="add", placeholder="sim:hosted", suggester=SuggestFromList(known))
            yield Static("", id="add-status", classes="note", markup=False)
            yield Label(Text("Known: " + "  ".join(known), style="dim"), classes="note")
            if self.config.endpoints:
                yield Static("", id="endpoint-models", classes="note", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Done", id="done", variant="primary")

    def on_mount(self) -> None:
        self.endpoint_notes = {name: "checking…" for name in self.config.endpoints}
        self.listed: list[str] = []
        if self.config.endpoints:
            self._show_endpoint_notes()
        for endpoint in self.config.endpoints.values():
            self.run_worker(self._list_endpoint(endpoint), group="endpoint-models")

    async def _list_endpoint(self, endpoint: Endpoint) -> None:
        """Adds the endpoint's models, off by default, once its server answers."""
        from providers.endpoints import list_models

        found = await asyncio.to_thread(list_models, endpoint)
        if not self.is_attached:
            return
        if found.problem:
            self.endpoint_notes[endpoint.name] = f"no model list ({found.problem})"
        else:
            self.endpoint_notes[endpoint.name] = (
                f"{len(found.models)} models listed, off until switched on"
            )
            selection = self.query_one("#models", SelectionList)
            known = {c.spec for c in self.choices} | set(self.listed)
            for spec in found.specs:
                if spec not in known:
                    self.listed.append(spec)
                    selection.add_option((Text(spec), spec, False))
        self._show_endpoint_notes()

    def _show_endpoint_notes(self) -> None:
        lines = [f"{name}: {note}" for name, note in self.endpoint_notes.items()]
        self.query_one("#endpoint-models", Static).update(Text("\n".join(lines), style="dim"))

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        await self.add_spec(event.value)

    def _say(self, message: str, error: bool = False) -> None:
        status = self.query_one("#add-status", Static)
        status.update(Text(message))
        status.set_class(error, "error")

    async def add_spec(self, text: str) -> bool:
        from providers import SpecError, make_adapter

        spec_text = text.strip()
        if not spec_text:
            return False
        provider, _, rest = spec_text.partition(":")
        if provider.strip().lower() == "replay" and rest and ":" not in rest:
            return await self._add_replays(spec_text)
        try:
            adapter = make_adapter(spec_text, self.config)
        except SpecError as exc:
            self._say(f"Unknown model: {exc}", error=True)
            return False
        spec = str(adapter.spec)
        selection = self.query_one("#models", SelectionList)
        if spec in [c.spec for c in self.choices] or spec in self.listed:
            selection.select(spec)
            self._say(f"{spec} is already in the list; it is switched on.")
            self.query_one("#add", Input).value = ""
            return True
        self._say(f"checking {spec}…")
        # Some checks touch the network (is Ollama up?): never on the event loop.
        problem = await asyncio.to_thread(adapter.problem)
        if problem:
            self._say(f"Cannot use {spec_text}: {problem}", error=True)
            return False
        self.choices.append(ModelChoice(spec, True))
        selection.add_option((Text(spec), spec, True))
        self.query_one("#add", Input).value = ""
        self._say(f"Added {spec}.")
        return True

    async def _add_replays(self, spec_text: str) -> bool:
        """`replay:ID` stands for every model of stored race ID, as on the command line."""
        from providers.store import StoreError
        from providers.store.replay import ReplayError, expand

        try:
            specs = await asyncio.to_thread(expand, [spec_text])  # reads the store
        except (ReplayError, StoreError) as exc:
            self._say(f"Cannot use {spec_text}: {exc}", error=True)
            return False
        added = [spec for spec in specs if await self.add_spec(spec)]
        return len(added) == len(specs)

    def on_button_pressed(self) -> None:
        self.action_done()

    def action_done(self) -> None:
        selected = set(self.query_one("#models", SelectionList).selected)
        choices = [replace(c, enabled=c.spec in selected) for c in self.choices]
        # A listed endpoint model joins the dashboard's models only once switched on.
        choices += [ModelChoice(spec, True) for spec in self.listed if spec in selected]
        self.dismiss(choices)


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
            "blocked it.",
            style="dim",
        )
        with Vertical(classes="dialog"):
            yield Static("modelrace keys", classes="dialog-title")
            yield Static(table, markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
