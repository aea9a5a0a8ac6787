"""Settings screen: a bad value is named next to its field and nothing typed is lost."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, TextArea

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
