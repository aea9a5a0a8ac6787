"""The dashboard: panels streaming side by side, the race timeline, the prompt, the keys.

The race engine writes its records from the event loop or a worker thread; this app never
takes a callback per token. A timer polls the records 15 times a second and each widget
repaints only what changed since the last look: that is the batching that keeps it smooth.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import os
import signal
import sys
import time
import weakref
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen
from textual.widgets import Footer
from textual.worker import Worker, WorkerCancelled, WorkerFailed

from providers import Config, Request, SpecError, make_adapter
from providers.arena.conversation import Conversation, Turn
from providers.clients import ClientPool
from providers.environment import redact
from providers.pipeline import PipelineError, PipelineRunner, load_pipeline
from providers.pipeline.runner import PIPELINE_MODES
from providers.pricing import cost_sum
from providers.pricing import warm as warm_prices
from providers.race import MODE_NAMES, Mode, ModeError, Race, parse_mode
from providers.record import Run
from providers.store import StoredRace
from tui.arena import ARENA_MODE, Arena, vote_bindings, vote_help
from tui.commands.run import EXIT_TERMINATED
from tui.commands.store import keep
from tui.history import PromptHistory, default_path, legacy_path
from tui.palette import DashboardCommands
from tui.prefs import Memory, snapshot
from tui.screens.help import HelpScreen
from tui.screens.history import HistoryScreen, show_stored
from tui.screens.leaderboard import LeaderboardScreen
from tui.screens.models import ModelChoice, ModelPickerScreen
from tui.screens.pipelines import PipelineOpenScreen, find_pipeline_files
from tui.screens.settings import Settings, SettingsScreen
from tui.sides import next_side
from tui.text import visible
from tui.widgets.fields import Field, FieldLine, field
from tui.widgets.lagmeter import LagMeter
from tui.widgets.panel import AnswerPanel, PanelGrid, StreamView, conversation_rows
from tui.widgets.prompt import PromptBox
from tui.widgets.timeline import Timeline

POLL_HZ = 15
IDLE_HINT = "type a prompt and press Enter"
GC_THRESHOLD = 10_000
ACTION_HELP = {
    "cycle_mode": "Cycle the run mode: sync, async, both, threads, blocking, all, limit N",
    "settings": "System prompt, temperature, max tokens, timeout, limit N",
    "models": "Toggle models on and off, or add a model spec",
    "cancel": "Stop what is streaming and keep what arrived",
    "rerun": "Send the last prompt again in the current mode",
    "zoom": "Show the selected panel full screen, and back",
    "next_panel": "Select the next panel (for zoom and copy)",
    "copy_answer": "Copy the selected panel's answer (and save it to a file)",
    "help": "Every key and what the screen shows",
    "open_pipeline": "Run a pipeline file, the prompt box as its input",
    "history": "Stored races: search, reopen, export or delete one",
    "switch_side": "Show the other side of a both race: its sync or its async answers",
    "bench": "Concurrency sweep of the models with the prompt box's prompt, charts live",
    "leaderboard": "Ratings from the stored votes: Bradley–Terry, 95% interval, speed",
    "arena": "Blind arena on/off: shuffled panels A, B, C…, names hidden until you vote",
    "diff": "Word-level diff of the selected panel's answer and the next one's",
    "new_chat": "Start a fresh conversation: the next prompt is turn 1, with no history",
    "quit": "Leave modelrace",
}
# Actions that act on the dashboard; they are off while a modal screen is open.
DASHBOARD_ACTIONS = {
    "cycle_mode",
    "settings",
    "models",
    "cancel",
    "rerun",
    "zoom",
    "next_panel",
    "copy_answer",
    "help",
    "open_pipeline",
    "history",
    "switch_side",
    "bench",
    "leaderboard",
    "arena",
    "vote",
    "diff",
    "new_chat",
}


class ModelRaceApp(App[int]):
    """Send one prompt to several models at once and watch them race."""

    CSS_PATH = "app.tcss"
    TITLE = "modelrace"
    COMMANDS = App.COMMANDS | {DashboardCommands}
    # Classes on the screen for small terminals (the stylesheet says what each hides).
    # Not ClassVar: Textual's annotation nests ClassVar in a union, so checkers see an instance
    # attribute, and an override must match it.
    HORIZONTAL_BREAKPOINTS: list[tuple[int, str]] | None = [(0, "-narrow"), (100, "-wide")]  # noqa: RUF012
    VERTICAL_BREAKPOINTS: list[tuple[int, str]] | None = [(0, "-short"), (30, "-tall")]  # noqa: RUF012
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+t", "cycle_mode", "Mode"),
        Binding("ctrl+s", "settings", "Settings"),
        Binding("ctrl+l", "models", "Models"),
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+r", "rerun", "Rerun"),
        Binding("ctrl+f", "zoom", "Zoom"),
        Binding("ctrl+n", "next_panel", "Next panel"),
        Binding("ctrl+g", "copy_answer", "Copy"),
        Binding("ctrl+o", "open_pipeline", "Pipeline"),
        Binding("f2", "history", "History"),
        Binding("f3", "switch_side", "Sides"),
        Binding("f8", "leaderboard", "Leaderboard", show=False),
        Binding("ctrl+b", "bench", "Bench", show=False),
        Binding("f4", "arena", "Arena"),
        Binding("f5", "new_chat", "New chat"),
        *vote_bindings(),
        Binding("ctrl+d", "diff", "Diff", show=False, priority=True),  # over the prompt's ctrl+d
        Binding("f1", "help", "Help"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(
        self,
        specs: list[str],
        config: Config | None = None,
        *,
        history: PromptHistory | None = None,
        mode: str = "both",
        prompt: str = "",
        arena: bool = False,
        arena_seed: int | None = None,
    ) -> None:
        super().__init__()
        self.config = config or Config()
        self.bad_specs: list[str] = []
        self.choices = [ModelChoice(spec, True) for spec in self._normalise(specs)]
        self.history = (
            history if history is not None else PromptHistory(default_path(), legacy_path())
        )
        self.settings = Settings()
        self.mode = str(parse_mode(mode))
        self.race: Race | PipelineRunner | None = None
        # SDK clients for every race of this session; closed when the app closes.
        self.clients = ClientPool()
        # Panels show either the chosen models or, after ctrl+o, a pipeline's steps.
        self.panel_titles: list[str] = []
        self.runs: list[Run] = []
        self.panels: list[AnswerPanel] = []
        self.selected = 0
        self.last_prompt: str | None = None
        # The run store's id of the race on screen, once saved (None while it runs or unsaved).
        self.stored_id: int | None = None
        # The turns so far: the next prompt continues them (each model hears its own answers).
        self.conversation = Conversation()
        self._turn_of: weakref.WeakKeyDictionary[Race, Turn] = weakref.WeakKeyDictionary()
        self._race_worker: Worker[None] | None = None
        self._bound_run: Run | None = None
        # The runs of the race on show, and the one whose answers the panels hold.
        self.race_runs: list[Run] = []
        self.shown_run: Run | None = None
        # Set by `dashboard_app`: where the model set, mode and settings are remembered.
        self.memory: Memory | None = None
        self._ticks = 0
        self._frozen_modules = 0
        self.timeline = Timeline(id="timeline")
        self.arena = Arena(self, on=arena, seed=arena_seed)
        self.prompt_box = PromptBox(self.history, id="prompt")
        self.prompt_box.text = prompt  # ready to send, e.g. a stored race's (`modelrace replay`)
        self.grid = PanelGrid(id="panels")
        self.bar = FieldLine(id="summary")
        self.run_state = IDLE_HINT
        self._restart_prompt: str | None = None
        self._parent_pid = os.getppid()

    def _normalise(self, specs: list[str]) -> list[str]:
        out: list[str] = []
        for spec in specs:
            try:
                name = str(make_adapter(spec, self.config).spec)
            except SpecError as exc:
                self.bad_specs.append(str(exc))
                continue
            if name not in out:
                out.append(name)
        return out

    # --- layout -----------------------------------------------------------------------------

    @property
    def enabled_specs(self) -> list[str]:
        return [c.spec for c in self.choices if c.enabled]

    def compose(self) -> ComposeResult:
        with Vertical(id="body"):
            with self.grid:
                yield from self._make_panels()
            yield self.timeline
        with Horizontal(id="bar"):
            yield self.bar
            yield LagMeter(id="lag")
        yield self.prompt_box
        yield Footer()

    def _make_panels(self, titles: list[str] | None = None) -> list[AnswerPanel]:
        self.panel_titles = list(self.enabled_specs if titles is None else titles)
        self.panels = [AnswerPanel(title) for title in self.panel_titles]
        self.selected = 0
        if self.panels:
            self.panels[0].add_class("-selected")
        self.arena.dress(self.panels)
        return self.panels

    def on_mount(self) -> None:
        # SIGTERM quits as a clean exit does (terminal restored), not as a kill.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self._terminated)
        self.set_interval(1.0, self._check_terminal)
        self.prompt_box.focus()
        self._show_bar()
        self.set_interval(1 / POLL_HZ, self._tick)
        self.call_after_refresh(self._freeze_heap)
        self.run_worker(self.history.load, thread=True, group="history")
        self.run_worker(warm_prices, thread=True, group="prices", exit_on_error=False)
        for message in self.bad_specs:
            self.notify(message, title="Model skipped", severity="error", markup=False)
        if not self.panels:
            self.notify("No models: press ctrl+l to add some.", severity="warning")

    async def on_unmount(self) -> None:
        await self.clients.aclose()

    # --- the poll: the only place panels and the timeline learn about new tokens --------------

    def _check_terminal(self) -> None:
        """Quit when the terminal has gone away (window closed, ssh dropped).

        Started under `make`, the app is not sent SIGHUP when its terminal closes, and
        Textual's input thread then spins on a dead tty at 100% of a core, forever.
        """
        stream = sys.__stdin__
        if self.is_headless or stream is None:
            return
        if self.is_web:
            # Served (`modelrace serve`): stdin is the server's pipe; a dead server reparents us.
            gone = os.getppid() != self._parent_pid
        else:
            try:
                gone = not os.isatty(stream.fileno())
            except (OSError, ValueError):
                gone = True
        if gone:
            for worker in self.workers:
                worker.cancel()
            if self.race is not None:
                self.race.cancel()
            # The process's exit status, not the app's result: a caller must see the failure.
            self.exit(return_code=1)

    def _terminated(self) -> None:
        """SIGTERM: cancel what streams (what arrived is kept), exit 143 like `run` does."""
        if self.race is not None:
            self.race.cancel()
        self.exit(return_code=EXIT_TERMINATED)

    def _tick(self) -> None:
        self._ticks += 1
        now = time.perf_counter()
        race = self.race
        if race is not None:
            runs: Sequence[Run] = race.runs
            active = next((r for r in reversed(runs) if r.t0 is not None), runs[0])
            if active.t0 is not None:
                # Clients are built before a run's clock starts: the SDKs are loaded by now
                # (a cheap check: it freezes again only when modules were imported since).
                self._freeze_heap()
            if active is not self._bound_run:
                self._bind_panels(active)
        if race is None or active.t0 is not None or not self.racing:
            # Long earlier turns are wrapped once the clock runs (or nothing will run).
            for panel in self.panels:
                panel.view.wrap_pending_earlier()
        status = self._ticks % 3 == 0
        for panel in self.panels:
            panel.poll(now, status)
        if self._ticks % 2 == 0:
            self.timeline.poll(now)
        if status:
            self._show_bar()

    def _freeze_heap(self) -> None:
        """Hide long-lived objects from the cyclic GC once new modules have loaded.

        With the SDKs imported, a full collection walks every module, class and cache and
        held the loop for ~100 ms every second or two while streams made garbage. Frozen
        objects are never scanned again; only what was created since is.
        """
        if len(sys.modules) != self._frozen_modules:
            self._frozen_modules = len(sys.modules)
            gc.freeze()
            # Streams allocate thousands of short-lived objects a second; collect young ones
            # less often so the (now small) full collections come minutes apart, not seconds.
            gc.set_threshold(GC_THRESHOLD, 10, 10)

    def attach_runs(self, runs: Sequence[Run], turn: int = 0) -> None:
        """Show runs on the timeline, the panels bound to the newest that started (the first
        when none has); every race comes through here, and so may finished runs. `turn`:
        their conversation turn, when they are one."""
        self.runs.extend(runs)
        self.race_runs = list(runs)
        del self.runs[:-8]
        self.timeline.add_runs(runs, turn)
        if self.run_state == IDLE_HINT:
            self.run_state = ""
        started = [run for run in runs if run.t0 is not None]
        self._bind_panels(started[-1] if started else runs[0])
        self._show_bar()

    def _bind_panels(self, run: Run) -> None:
        self._bound_run = run
        self._show_side(run)

    def _show_side(self, run: Run) -> None:
        self.shown_run = run
        label = f"#{self.timeline.number_of(run)} {run.mode}"
        for panel, result in zip(self.panels, run.results, strict=False):
            panel.bind(result, label)

    # --- running ------------------------------------------------------------------------------

    @property
    def racing(self) -> bool:
        return self._race_worker is not None and self._race_worker.is_running

    def on_prompt_box_send(self, message: PromptBox.Send) -> None:
        if self.start_race(message.prompt):
            self.prompt_box.clear()

    def start_race(self, prompt: str) -> bool:
        """Start a race of the enabled models; a notification says why when it cannot."""
        if not prompt.strip():
            self.notify("Type a prompt first.", severity="warning")
            return False
        if not self.enabled_specs:
            self.notify("No models selected: press ctrl+l to pick some.", severity="error")
            return False
        refused = self.arena.cannot_start(len(self.enabled_specs))
        if refused:
            self.notify(refused, severity="error")
            return False
        if self.racing:
            return self._offer_restart(prompt)
        if self.arena.names_shown() and self.conversation.turns:
            # Its models are known now: blind again means a new conversation, newly shuffled.
            self.conversation = Conversation()
            self.notify(
                "The last blind race's names are shown: this prompt starts a new blind "
                "conversation (turn 1, shuffled anew).",
                markup=False,
            )
        try:
            specs = self.arena.order(self.enabled_specs)
            adapters = [make_adapter(spec, self.config) for spec in specs]
            mode = parse_mode(ARENA_MODE if self.arena.on else self.mode)
        except (SpecError, ModeError) as exc:
            self.notify(str(exc), severity="error", markup=False)
            return False
        s = self.settings
        request = Request(
            prompt,
            system=s.system or None,
            temperature=s.temperature,
            max_tokens=s.max_tokens,
            timeout=s.timeout,
            retries=s.retries,
        )
        stored = self.history.add(prompt)
        if stored is not None:
            self.run_worker(partial(self.history.append_to_file, stored), thread=True)
        self.last_prompt = prompt
        self.stored_id = None
        follow_up = self.conversation.follow_up(specs)
        for spec in self.conversation.newcomers(specs):
            self.notify(
                f"{spec} joins at turn {follow_up.turn}: it starts with no earlier turns.",
                markup=False,
            )
        self.race = Race(adapters, request, mode, follow_up, self.clients)
        self.arena.begin(self.race)
        self._show_run_label(f"running {mode} · {len(adapters)} models")
        self._launch(self.race, specs)
        return True

    def _offer_restart(self, prompt: str) -> bool:
        """A prompt sent while a run streams: the same prompt sent again cancels and restarts."""
        if self._restart_prompt != prompt:
            self._restart_prompt = prompt
            self.notify(
                "A run is still streaming: press Enter again to cancel it and send this "
                "prompt, or Esc to cancel only.",
                severity="warning",
            )
            return False
        self._restart_prompt = None
        self.run_worker(self._restart(prompt), group="restart")
        return True

    async def _restart(self, prompt: str) -> None:
        worker = self._race_worker
        if self.race is not None:
            self.race.cancel()
        if worker is not None:
            worker.cancel()
            with contextlib.suppress(WorkerCancelled, WorkerFailed):
                await worker.wait()
        self.start_race(prompt)

    def _launch(self, race: Race | PipelineRunner, titles: list[str]) -> None:
        self._race_worker = self.run_worker(
            self._drive(race, titles), group="race", exit_on_error=False
        )

    async def _drive(self, race: Race | PipelineRunner, titles: list[str]) -> None:
        """Panels for this race (models or pipeline steps), then run it to the end."""
        if titles != self.panel_titles:
            await self._rebuild_panels(titles)
        self.arena.dress(self.panels)
        turn = race.follow_up.turn if isinstance(race, Race) else 0
        if isinstance(race, Race):
            self._show_turns(race)
        self.attach_runs(race.runs, turn)
        try:
            await race.run()
        finally:
            self._restart_prompt = None
            self._tick()
            self._show_run_label("cancelled" if race.cancelled else "")
            if isinstance(race, Race) and race is self.race:
                self._add_turn(race)
            self.arena.race_over()
            self.run_worker(
                partial(self._keep, race), thread=True, group="store", exit_on_error=False
            )

    def _keep(self, race: Race | PipelineRunner) -> None:
        """In a worker thread: the run store. A failure is a notice; the race stays shown."""
        kept = keep(race, self.config, interrupted=race.cancelled)
        if isinstance(kept, str):
            self.call_from_thread(
                self.notify, kept, title="Not saved", severity="warning", markup=False
            )
        else:
            self.call_from_thread(self._stored, race, kept)

    def _stored(self, race: Race | PipelineRunner, race_id: int) -> None:
        if race is self.race:
            self.stored_id = race_id
        if isinstance(race, Race) and race in self._turn_of:
            self._turn_of[race].race_id = race_id

    # --- conversations -------------------------------------------------------------------------

    def _show_turns(self, race: Race) -> None:
        """Each panel: the turn on show in its title, its model's earlier turns above."""
        self._paint_turns(race.follow_up.turn, race.request.prompt, self.conversation.turns)

    def _paint_turns(self, turn: int, prompt: str, earlier_turns: Sequence[Turn]) -> None:
        known = {spec for t in earlier_turns for spec in t.answers}
        for panel in self.panels:
            earlier = [(t.number, t.prompt, t.answers.get(panel.spec)) for t in earlier_turns]
            fresh = bool(earlier_turns) and panel.spec not in known
            note = f"joined at turn {turn}: no earlier turns sent" if fresh else ""
            panel.show_turn(turn, conversation_rows(earlier, turn, prompt, note))

    async def continue_stored(self, race: StoredRace) -> None:
        """A reopened stored race: the next prompt continues its conversation, whose earlier
        turns are read from the store off the event loop (just this one when that fails)."""
        if race.kind != "race" or race.id is None:
            self.conversation = Conversation()
            self._show_bar()
            return
        from providers.store import StoreError
        from providers.store.races import conversation

        try:
            chain = await asyncio.to_thread(conversation, race.id)
        except (StoreError, LookupError):
            chain = [race]
        self.conversation = Conversation.from_stored(chain)
        turns = self.conversation.turns
        self._paint_turns(turns[-1].number, race.prompt, turns[:-1])
        self._show_bar()

    def _add_turn(self, race: Race) -> None:
        """The race just ended is the conversation's latest turn (its texts read from memory,
        never from the store). Its parent is the previous turn's stored id, when known by now."""
        previous = self.conversation.turns[-1] if self.conversation.turns else None
        self._turn_of[race] = self.conversation.add(
            race.request.prompt, race.runs, number=race.follow_up.turn
        )
        if race.follow_up.parent_id is None and previous is not None:
            race.follow_up = dataclasses.replace(race.follow_up, parent_id=previous.race_id)
        self._show_bar()

    def action_new_chat(self) -> None:
        if self.racing:
            self.notify("A run is streaming: a new conversation once it ends (Esc cancels it).")
            return
        self.conversation = Conversation()
        for panel in self.panels:
            panel.show_turn(1)
        self._show_bar()
        self.notify("New conversation: the next prompt is turn 1, with no history.")

    # --- actions -----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action in DASHBOARD_ACTIONS and isinstance(self.screen, ModalScreen))

    def palette_actions(self) -> list[tuple[str, str, str]]:
        """(name, help, action) for the command palette: one per key binding."""
        entries = [("Send prompt", "Send the prompt box to every model (Enter)", "send")]
        for binding in self.BINDINGS:
            assert isinstance(binding, Binding)
            if binding.action.startswith("vote("):
                continue
            help_text = ACTION_HELP.get(binding.action, binding.description)
            entries.append((binding.description, f"{help_text} ({binding.key})", binding.action))
        return entries + [(name, text, f"vote({choice!r})") for name, text, choice in vote_help()]

    def mode_names(self) -> list[str]:
        return [m if m != "limit=N" else f"limit={self.settings.limit}" for m in MODE_NAMES]

    def action_send(self) -> None:
        self.prompt_box.action_send()

    def set_mode(self, mode: str) -> None:
        try:
            self.mode = str(parse_mode(mode))
        except ModeError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self._show_bar()
        self._remember()
        if self.arena.on:
            self.notify(f"Mode {self.mode} applies once you leave the arena (f4).")

    def action_cycle_mode(self) -> None:
        if self.arena.on:
            self.notify(f"The arena runs {ARENA_MODE} only: f4 leaves it to change the mode.")
            return
        names = self.mode_names()
        current = Mode("limit").name if self.mode.startswith("limit") else self.mode
        index = next((i for i, n in enumerate(names) if n.startswith(current)), -1)
        self.set_mode(names[(index + 1) % len(names)])

    def action_cancel(self) -> None:
        if self.screen.is_modal:
            return
        if not self.racing or self.race is None:
            return
        self.race.cancel()
        if self._race_worker is not None:
            self._race_worker.cancel()
        self.notify("Cancelled: what arrived is kept.")

    def action_rerun(self) -> None:
        if self.last_prompt is None:
            self.notify("Nothing to rerun yet: send a prompt first.", severity="warning")
            return
        turns = self.conversation.turns
        if not self.racing and turns and turns[-1].prompt == self.last_prompt:
            turns.pop()  # asked again, not asked after itself: the same turn once more
        self.start_race(self.last_prompt)

    def action_settings(self) -> None:
        def apply(settings: Settings | None) -> None:
            if settings is None:
                return
            self.settings = settings
            if self.mode.startswith("limit"):
                self.mode = f"limit={settings.limit}"
            self._show_bar()
            self._remember()
            self.notify("Settings saved.")

        self.push_screen(SettingsScreen(self.settings), apply)

    def action_bench(self) -> None:
        from tui.screens.bench import BenchScreen

        prompt = self.prompt_box.text.strip() or self.last_prompt
        refused = self.arena.refusal("the bench")
        if refused:
            self.notify(refused, severity="warning")
            return
        if self.racing or not prompt or not self.enabled_specs:
            why = "a run is streaming" if self.racing else "no prompt" if not prompt else ""
            self.notify(
                f"Bench needs a prompt, models and no run streaming ({why or 'no models'})."
            )
            return
        s = self.settings
        try:
            adapters = [make_adapter(spec, self.config) for spec in self.enabled_specs]
        except SpecError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        request = Request(
            prompt, s.system or None, s.temperature, s.max_tokens, s.timeout, s.retries
        )
        self.push_screen(BenchScreen(adapters, request))

    def action_diff(self) -> None:
        from tui.screens.diff import open_diff

        open_diff(self)

    def action_models(self) -> None:
        if self.racing:
            self.notify("Models can change once this run ends (Esc cancels it).")
            return
        self.push_screen(ModelPickerScreen(self.choices, self.config), self._apply_models)

    async def _apply_models(self, choices: list[ModelChoice] | None) -> None:
        if choices is None or choices == self.choices:
            return
        self.choices = choices
        self._remember()
        self.race = None
        await self._rebuild_panels(self.enabled_specs)
        if not self.panels:
            self.notify("No models selected: a run needs at least one.", severity="warning")

    async def _rebuild_panels(self, titles: list[str]) -> None:
        grid = self.grid
        await grid.remove_children()
        self._bound_run = None
        panels = self._make_panels(titles)
        await grid.mount_all(panels)
        self.screen.remove_class("-zoom")
        grid.zoomed = False
        grid.select(0)

    async def action_open_pipeline(self) -> None:
        if self.arena.on:
            self.notify("Pipelines do not run in the arena: f4 leaves it.", severity="warning")
            return
        if self.racing:
            self.notify("A run is still streaming: Esc cancels it.", severity="warning")
            return
        found = await asyncio.to_thread(self.pipeline_files)
        # The seed article's demo first, when it is there.
        found.sort(key=lambda path: path.name != "rag.toml")
        suggestion = str(found[0].relative_to(Path.cwd())) if found else ""
        self.push_screen(PipelineOpenScreen(suggestion), self.open_pipeline)

    async def open_pipeline(self, path: str | None) -> None:
        """Run a pipeline file: one panel and one timeline row per step."""
        if path is None:
            return
        if self.arena.on:
            self.notify("Pipelines do not run in the arena: f4 leaves it.", severity="warning")
            return
        if self.racing:
            self.notify("A run is still streaming: Esc cancels it.", severity="warning")
            return
        mode = self.mode if self.mode in PIPELINE_MODES else "both"
        try:
            # Reading and checking the file touches the disk: off the event loop.
            pipeline = await asyncio.to_thread(load_pipeline, Path(path).expanduser(), self.config)
            run = PipelineRunner(pipeline, self.prompt_box.text.strip(), mode, self.config)
        except (PipelineError, ModeError, OSError) as exc:
            self.notify(str(exc), title="Pipeline", severity="error", markup=False)
            return
        if mode != self.mode:
            self.notify(f"Pipelines run in {', '.join(PIPELINE_MODES)}: running {mode}.")
        self.stored_id = None
        self.race = run
        titles = [f"{step.name} · {step.label}" for step in pipeline.steps]
        self._show_run_label(f"running pipeline {pipeline.name} ({mode})")
        self._launch(run, titles)

    def action_history(self) -> None:
        refused = self.arena.refusal("the history")
        if refused:
            self.notify(refused, severity="warning")
            return

        async def reopen(race: StoredRace | None) -> None:
            if race is not None:
                await show_stored(self, race)

        self.push_screen(HistoryScreen(), reopen)

    def action_leaderboard(self) -> None:
        self.push_screen(LeaderboardScreen())

    def action_arena(self) -> None:
        self.arena.toggle()

    def action_vote(self, choice: str) -> None:
        self.arena.cast(choice)

    def action_switch_side(self) -> None:
        other = next_side(self.race_runs, self.shown_run)
        if other is None or self._bound_run is None:
            if len(self.race_runs) > 1 and self._bound_run is not None:
                self.notify("The other side of this race has not started yet.")
            else:
                self.notify("Only a both race has two sides (sync and async) to switch between.")
            return
        self._show_side(other)

    def _remember(self) -> None:
        """Keep the model set, mode and settings for the next launch (written in a thread)."""
        if self.memory is None:
            return
        write = self.memory.writer(
            snapshot(self.choices, self.mode, self.settings),
            lambda message: self.call_from_thread(self.notify, message, markup=False),
        )
        self.run_worker(write, thread=True, group="remember")

    def pipeline_files(self) -> list[Path]:
        return find_pipeline_files(Path.cwd())

    def _selected_panel(self) -> AnswerPanel | None:
        if not self.panels:
            return None
        return self.panels[min(self.selected, len(self.panels) - 1)]

    def _select(self, index: int) -> None:
        if not self.panels:
            return
        self.grid.select(index)
        self.selected = self.grid.selected

    def action_next_panel(self) -> None:
        self._select(self.selected + 1)

    def on_descendant_focus(self, event: object) -> None:
        widget = getattr(event, "widget", None)
        if isinstance(widget, StreamView) and isinstance(widget.parent, AnswerPanel):
            self._select(self.panels.index(widget.parent))

    def action_zoom(self) -> None:
        panel = self._selected_panel()
        if panel is None:
            return
        zoom = not self.screen.has_class("-zoom")
        self.screen.set_class(zoom, "-zoom")
        self.grid.zoom(zoom)

    def action_copy_answer(self) -> None:
        panel = self._selected_panel()
        text = panel.result.text if panel is not None and panel.result is not None else ""
        if panel is None or not text:
            self.notify("Nothing to copy yet in the selected panel.", severity="warning")
            return
        self.copy_to_clipboard(redact(text))
        self.run_worker(partial(self._save_answer, self.arena.name_of(panel), text), thread=True)

    def _save_answer(self, spec: str, text: str) -> None:
        """The clipboard escape (OSC 52) is not honoured everywhere, so keep a file too."""
        from platformdirs import user_data_dir

        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in spec)
        folder = Path(user_data_dir("modelrace")) / "answers"
        path = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{safe}.md"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(redact(text), encoding="utf-8")
        except OSError as exc:
            self.call_from_thread(
                self.notify, f"Copied; could not save a file: {exc}", markup=False
            )
            return
        self.call_from_thread(
            self.notify, f"Copied {spec}'s answer; also saved to {path}", markup=False
        )

    def action_help(self) -> None:
        keys = [("enter", "Send the prompt"), ("ctrl+j", "New line in the prompt")]
        keys += [("up / down", "Prompt history (on the first / last line)")]
        bindings = [b for b in self.BINDINGS if isinstance(b, Binding)]
        keys += [(b.key, b.description) for b in bindings if not b.action.startswith("vote(")]
        keys += [("ctrl+p", "Command palette"), ("tab", "Focus a panel to scroll it")]
        keys += [(key, text) for key, text, _ in vote_help(keys=True)]
        self.push_screen(HelpScreen(keys))

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Control characters are never sent to the terminal. Messages that carry specs, file
        names, SDK errors or model text pass `markup=False`; the app's own may use markup."""
        super().notify(
            visible(message),
            title=visible(title),
            severity=severity,
            timeout=timeout,
            markup=markup,
        )

    def deliver_screenshot(
        self,
        filename: str | None = None,
        path: str | None = None,
        time_format: str | None = None,
    ) -> str | None:
        """Save into a folder that exists: Downloads when there is one, else our data dir."""
        folder = Path(path).expanduser() if path else screenshot_folder()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.notify(f"Cannot save a screenshot in {folder}: {exc}", markup=False)
            return None
        return super().deliver_screenshot(filename, str(folder), time_format)

    # --- labels --------------------------------------------------------------------------------

    def _show_run_label(self, message: str) -> None:
        self.run_state = message
        self._show_bar()

    def on_panel_grid_paged(self) -> None:
        self._show_bar()

    def _show_bar(self) -> None:
        """The status bar: what the race showed first, then what is running, then the rest.

        A narrow terminal drops fields from the least important, so the speedup and the two
        wall times are the last thing to go.
        """
        sealed = self.arena.sealed
        fields: list[Field] = [] if sealed else list(self.timeline.comparison())
        if self.run_state:
            rank = 2 if self.racing or self.run_state == "cancelled" else 6
            if self.race is None and self.run_state.startswith("stored "):
                rank = 3  # a reopened race says it is one before settings do
            fields.append(field(visible(self.run_state), rank, "dim"))
        first, last, count = self.grid.page
        if count and (first, last) != (1, count):
            shown = f"panel {first}" if first == last else f"panels {first}–{last}"
            fields.append(field(f"{shown} of {count} (ctrl+n)", 3))
        fields.extend(self.arena.bar_fields())
        if self.race_runs and all(run.over for run in self.race_runs) and not self.arena.sealed:
            spent = f"cost {cost_sum(r for run in self.race_runs for r in run.results).text()}"
            if len(self.conversation.turns) > 1:
                spent += f" · chat {self.conversation.cost.text()}"
            fields.append(field(spent, 5))
        if self.conversation.turns:
            turn = self.conversation.next_turn
            fields.append(field(f"next: turn {turn} (f5 new chat)", 4, "dim"))
        fields.append(field(self.arena.mode_label(self.mode), 2, "bold"))
        fields.append(field("(f4)" if self.arena.on else "(ctrl+t)", 7, "dim"))
        fields.extend(settings_fields(self.settings))
        self.bar.set_fields(fields)


def settings_fields(settings: Settings) -> list[Field]:
    """The settings every request of the next run gets, when they are not the defaults."""
    fields: list[Field] = []
    if settings.temperature is not None:
        fields.append(field(f"temperature {settings.temperature:g}", 5, "dim"))
    if settings.max_tokens is not None:
        fields.append(field(f"max {settings.max_tokens} tokens", 5, "dim"))
    if settings.timeout is not None:
        fields.append(field(f"timeout {settings.timeout:g} s", 5, "dim"))
    if settings.retries:
        fields.append(field(f"retries {settings.retries}", 5, "dim"))
    if settings.system:
        fields.append(field("system prompt set", 6, "dim"))
    return fields


def screenshot_folder() -> Path:
    """Downloads when the user has that folder; otherwise modelrace's own, created on use."""
    from platformdirs import user_data_dir, user_downloads_dir

    downloads = Path(user_downloads_dir())
    return downloads if downloads.is_dir() else Path(user_data_dir("modelrace")) / "screenshots"


def run_dashboard(
    specs: list[str], config: Config, *, given: bool = True, arena: bool = False
) -> int:
    """Open the dashboard with `specs` (`given` with -m), else the models of the last
    session, else the configured models, else the offline set; `arena`: blind from the
    first race."""
    if not specs:
        from providers.defaults import default_specs

        specs = default_specs(config)
    from tui.prefs import dashboard_app

    app = dashboard_app(specs, config, given=given)
    app.arena.on = arena
    app.run()
    return app.return_code or 0


__all__ = ["ModelRaceApp", "run_dashboard"]
