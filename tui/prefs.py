"""What the dashboard remembers between launches: the model set, the mode and the settings.

They live in the run store's `meta` table. Reading happens before the app starts (no event
loop yet); each change is written from a worker thread. A store that cannot be used costs only
the remembering: the dashboard starts with its defaults and says once why it forgot.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from providers.store import StoreError
from providers.store.meta import read_meta, write_meta
from tui.screens.models import ModelChoice
from tui.screens.settings import Settings, parse_settings

if TYPE_CHECKING:
    from providers.config import Config
    from tui.app import ModelRaceApp

PREFIX = "dashboard."
MODELS, MODE, SETTINGS = PREFIX + "models", PREFIX + "mode", PREFIX + "settings"


@dataclass(frozen=True)
class Remembered:
    """What the last session chose; None for what it never set (or could not be read)."""

    models: list[ModelChoice] | None = None
    mode: str | None = None
    settings: Settings | None = None
    problem: str | None = None


def _models(value: Any) -> list[ModelChoice] | None:
    if not isinstance(value, list):
        return None
    out = [
        ModelChoice(item["spec"], bool(item.get("enabled", True)))
        for item in value
        if isinstance(item, dict) and isinstance(item.get("spec"), str)
    ]
    return out or None


def _settings(value: Any) -> Settings | None:
    if not isinstance(value, dict):
        return None

    def text(name: str) -> str:
        item = value.get(name)
        return "" if item is None else str(item)

    # Checked as the settings form checks them: a hand-edited value is not trusted.
    try:
        return parse_settings(
            text("system"), text("temperature"), text("max_tokens"), text("timeout"), text("limit")
        )
    except ValueError:
        return None


def _mode(value: Any) -> str | None:
    from providers.race import ModeError, parse_mode

    try:
        return str(parse_mode(value)) if isinstance(value, str) else None
    except ModeError:
        return None


def load(path: Path | None = None) -> Remembered:
    """Read what was remembered (blocking: before the app runs, or from a thread)."""
    try:
        values = read_meta(PREFIX, path)
    except StoreError as exc:
        return Remembered(problem=str(exc))
    return Remembered(
        models=_models(values.get(MODELS)),
        mode=_mode(values.get(MODE)),
        settings=_settings(values.get(SETTINGS)),
    )


def snapshot(choices: list[ModelChoice], mode: str, settings: Settings) -> dict[str, Any]:
    """The values to keep, taken on the event loop so a later change cannot tear them."""
    return {
        MODELS: [{"spec": c.spec, "enabled": c.enabled} for c in choices],
        MODE: mode,
        SETTINGS: asdict(settings),
    }


class Memory:
    """Writes snapshots in order: a slow older write never lands after a newer one."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._issued = 0
        self._written = 0
        self._warned = False

    def writer(self, values: dict[str, Any], warn: Callable[[str], None]) -> Callable[[], None]:
        """A blocking call for a worker thread; `warn` hears (once) why nothing was kept."""
        self._issued += 1
        number = self._issued

        def write() -> None:
            with self._lock:
                if number < self._written:
                    return
                try:
                    write_meta(values, self.path)
                except StoreError as exc:
                    if not self._warned:
                        self._warned = True
                        warn(f"Not remembered for next time: {exc}")
                    return
                self._written = number

        return write


def dashboard_app(specs: list[str], config: Config, *, given: bool) -> ModelRaceApp:
    """The dashboard as the last session left it: its mode and settings, and its model set
    unless `given` (models named with -m win). Reads the store before any event loop runs."""
    from tui.app import ModelRaceApp

    memory = Memory()
    last = load()
    remembered = None if given else last.models
    if remembered:
        specs = [c.spec for c in remembered]
    app = ModelRaceApp(specs, config, mode=last.mode or "both")
    if remembered:
        enabled = {c.spec: c.enabled for c in remembered}
        app.choices = [ModelChoice(c.spec, enabled.get(c.spec, True)) for c in app.choices]
    if last.settings is not None:
        app.settings = last.settings
    app.memory = memory
    return app
