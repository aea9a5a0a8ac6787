"""Model picker: toggle models, or add a spec; a spec that cannot work is refused."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, SelectionList, Static

from providers.config import Config, Endpoint


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
