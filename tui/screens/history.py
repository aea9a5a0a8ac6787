"""The history screen: stored races, newest first, searchable; reopen, export or delete one.

ctrl+b switches the list to stored benches (and back): Enter opens a bench read-only, its
charts drawn again from the samples its document keeps.

Every touch of the store (listing, loading, exporting, deleting) runs in a thread: the list
can hold thousands of races and the disk may be slow. A reopened race is shown read-only in
the panels and the timeline, rebuilt from the same `Run` objects a live race has; a rerun
sends its prompt to its models again.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from providers.race import ModeError, parse_mode
from providers.store import StoredRace, StoreError, Summary, UnknownRace
from providers.store.benches import StoredBench, UnknownBench
from tui.commands.store import _excerpt, _walls, _when
from tui.screens.models import ModelChoice
from tui.screens.settings import Settings
from tui.text import visible

if TYPE_CHECKING:
    from tui.app import ModelRaceApp

LIMIT = 500
# Column widths that keep the whole row in view at 120 columns.
MODELS_WIDTH, PROMPT_WIDTH = 22, 24
COLUMNS = ("id", "when", "mode", "models", "prompt", "wall", "speedup")
BENCH_COLUMNS = ("id", "when", "bench", "models", "prompt", "samples")
KEYS = (
    "Enter reopens · ctrl+e exports Markdown · ctrl+w exports HTML · "
    "ctrl+d deletes · ctrl+b {other} · ↓ to the list · Esc closes"
)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def summary_cells(s: Summary) -> list[Text]:
    """One row of the list; every cell is text, never markup (prompts are anyone's)."""
    models = ", ".join(s.models) if s.kind == "race" else f"pipeline ({len(s.models)} steps)"
    cells = [
        str(s.id),
        _when(s.created)[5:],  # the year is rarely news; the list is newest first
        s.mode + (" (interrupted)" if s.interrupted else ""),
        _cut(models, MODELS_WIDTH),
        _cut(_excerpt(s.prompt), PROMPT_WIDTH),
        _walls(s),
        "-" if s.speedup is None else f"{s.speedup:.2f}x",
    ]
    return [Text(visible(cell)) for cell in cells]


def bench_cells(b: StoredBench) -> list[Text]:
    """One row of the bench list, as `history --bench` prints it."""
    kind = b.mode if b.kind == "repeat" else f"sweep to {b.concurrency}"
    cells = [
        f"b{b.id}",
        _when(b.created or "")[5:],
        kind + (" (interrupted)" if b.interrupted else ""),
        _cut(", ".join(b.models), MODELS_WIDTH),
        _cut(_excerpt(b.prompt), PROMPT_WIDTH),
        str(b.n_samples),
    ]
    return [Text(visible(cell)) for cell in cells]


def export_folder() -> Path:
    """Downloads when the user has that folder; otherwise modelrace's own `exports/`."""
    from platformdirs import user_data_dir, user_downloads_dir

    downloads = Path(user_downloads_dir())
    return downloads if downloads.is_dir() else Path(user_data_dir("modelrace")) / "exports"


def export_to_file(race_id: int, fmt: str, *, bench: bool = False) -> Path:
    """Write stored race (or bench) `race_id` as `fmt` (md or html) to a new file; its path
    (blocking)."""
    if bench:
        from providers.store.bench_export import export_bench
        from providers.store.benches import load_bench

        text = export_bench(load_bench(race_id), fmt)
    else:
        from providers.store import load
        from providers.store.export import export

        text = export(load(race_id), fmt)
    folder = export_folder()
    folder.mkdir(parents=True, exist_ok=True)
    name = f"modelrace-bench-b{race_id}" if bench else f"modelrace-race-{race_id}"
    path = folder / f"{name}.{fmt}"
    number = 1
    while path.exists():  # an earlier export is kept, not overwritten
        number += 1
        path = folder / f"{name}-{number}.{fmt}"
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    return path


class HistoryScreen(ModalScreen[StoredRace | None]):
    """Dismissed with the stored race to reopen, or None."""

    AUTO_FOCUS = "#history-search"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("down", "to_list", "List", show=False),
        Binding("ctrl+e", "export('md')", "Export Markdown", priority=True),
        Binding("ctrl+w", "export('html')", "Export HTML", priority=True),
        Binding("ctrl+d", "delete", "Delete", priority=True),
        Binding("ctrl+b", "toggle_benches", "Races / benches", priority=True),
    ]

    def __init__(self) -> None:
        super().__init__(classes="modal")
        self.rows: list[Summary | StoredBench] = []
        self.benches = False  # listing stored benches instead of races
        self._armed: int | None = None  # the id a first ctrl+d asked about

    def compose(self) -> ComposeResult:
        with Vertical(id="history-dialog"):
            yield Static("Stored races", id="history-title", classes="dialog-title")
            yield Input(
                id="history-search", placeholder="Search prompts, system prompts and models"
            )
            table: DataTable[Text] = DataTable(id="history-table", cursor_type="row")
            table.add_columns(*COLUMNS)
            yield table
            yield Static("loading…", id="history-status", markup=False)
            yield Static(KEYS.format(other="benches"), id="history-keys", markup=False)

    def on_mount(self) -> None:
        self.refresh_list("")

    # --- the list -----------------------------------------------------------------------------

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#history-table", DataTable)

    def say(self, message: str) -> None:
        self.query_one("#history-status", Static).update(Text(visible(message)))

    @work(exclusive=True, group="history-list")
    async def refresh_list(self, search: str) -> None:
        await self.fill(search)

    async def fill(self, search: str) -> None:
        """List the races (or benches) matching `search` (read in a thread); say how many."""
        from providers.store import default_path, history
        from providers.store.benches import bench_history

        benches = self.benches

        def read() -> tuple[list[Summary | StoredBench], list[list[Text]]]:
            # A bench row counts its samples in its JSON document: parsed here, off the loop.
            if benches:
                found = bench_history(search or None, LIMIT)
                return list(found), [bench_cells(b) for b in found]
            races = history(search or None, LIMIT)
            return list(races), [summary_cells(s) for s in races]

        try:
            rows, cells = await asyncio.to_thread(read)
        except StoreError as exc:
            self.say(str(exc))
            return
        if benches != self.benches:  # switched while reading: that list is on its way
            return
        self.rows = rows
        table = self.table
        row = table.cursor_row
        table.clear()
        for item, row_cells in zip(rows, cells, strict=True):
            table.add_row(*row_cells, key=str(item.id))
        if rows:
            table.move_cursor(row=min(row, len(rows) - 1))
        where = default_path()
        what = "benches" if benches else "races"
        if rows:
            more = f" (the newest {LIMIT})" if len(rows) == LIMIT else ""
            self.say(f"{len(rows)} stored {what}{more} in {where}")
        elif search:
            self.say(f"no stored {what[:-2] if benches else 'race'} matches {search!r}")
        else:
            self.say(f"no {what} stored yet in {where}")

    def action_toggle_benches(self) -> None:
        """Races ⇄ benches: the list, its columns, the title and the keys follow."""
        self.benches = not self.benches
        self._armed = None
        self.rows = []
        table = self.table
        table.clear(columns=True)
        table.add_columns(*(BENCH_COLUMNS if self.benches else COLUMNS))
        title = "Stored benches" if self.benches else "Stored races"
        self.query_one("#history-title", Static).update(title)
        other = "races" if self.benches else "benches"
        self.query_one("#history-keys", Static).update(KEYS.format(other=other))
        self.say("loading…")
        self.refresh_list(self.query_one("#history-search", Input).value.strip())

    def on_input_changed(self, event: Input.Changed) -> None:
        self._armed = None
        self.refresh_list(event.value.strip())

    def selected(self) -> Summary | StoredBench | None:
        if not self.rows:
            return None
        return self.rows[min(max(self.table.cursor_row, 0), len(self.rows) - 1)]

    def action_to_list(self) -> None:
        self.table.focus()

    def action_close(self) -> None:
        self.dismiss(None)

    # --- reopen, export, delete ---------------------------------------------------------------

    def on_input_submitted(self) -> None:
        self.open_selected()

    def on_data_table_row_selected(self) -> None:
        self.open_selected()

    @work(exclusive=True, group="history-open")
    async def open_selected(self) -> None:
        from providers.store import load

        summary = self.selected()
        if summary is None:
            return
        if isinstance(summary, StoredBench):
            await self.open_bench(summary)
            return
        try:
            race = await asyncio.to_thread(load, summary.id)
        except (StoreError, UnknownRace) as exc:
            self.say(_problem(exc, _name(summary)))
            return
        self.dismiss(race)

    async def open_bench(self, stored: StoredBench) -> None:
        """Over this list, so Esc comes back to it; the document is parsed in a thread."""
        from providers.bench.stored import BadBenchDocument, bench_from_json
        from tui.screens.bench import StoredBenchScreen

        try:
            bench = await asyncio.to_thread(bench_from_json, stored.document, stored.models)
        except BadBenchDocument as exc:
            self.say(f"bench b{stored.id}: {exc}")
            return
        await self.app.push_screen(StoredBenchScreen(stored, bench))

    @work(group="history-export")
    async def action_export(self, fmt: str) -> None:
        summary = self.selected()
        if summary is None:
            self.say("nothing to export")
            return
        bench = isinstance(summary, StoredBench)
        name = _name(summary)
        try:
            path = await asyncio.to_thread(export_to_file, summary.id or 0, fmt, bench=bench)
        except (StoreError, UnknownRace, UnknownBench, OSError) as exc:
            self.say(f"not exported: {_problem(exc, name)}")
            return
        self.say(f"exported {name} to {path}")
        self.app.notify(f"Exported {name} to {path}", markup=False)

    @work(exclusive=True, group="history-delete")
    async def action_delete(self) -> None:
        from providers.store import delete
        from providers.store.benches import delete_benches

        summary = self.selected()
        if summary is None or summary.id is None:
            self.say("nothing to delete")
            return
        name = _name(summary)
        if self._armed != summary.id:
            self._armed = summary.id
            self.say(f"press ctrl+d again to delete {name} for good")
            return
        self._armed = None
        gone = delete_benches if isinstance(summary, StoredBench) else delete
        try:
            await asyncio.to_thread(gone, [summary.id])
        except (StoreError, UnknownRace, UnknownBench) as exc:
            self.say(f"not deleted: {_problem(exc, name)}")
            return
        await self.fill(self.query_one("#history-search", Input).value.strip())
        self.say(f"deleted {name}")

    def on_data_table_row_highlighted(self) -> None:
        self._armed = None


def _name(item: Summary | StoredBench) -> str:
    return f"bench b{item.id}" if isinstance(item, StoredBench) else f"race {item.id}"


def _problem(exc: BaseException, name: str) -> str:
    if isinstance(exc, UnknownRace | UnknownBench):
        return f"{name} is no longer stored"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)


# --- showing a stored race on the dashboard ---------------------------------------------------


def stored_settings(race: StoredRace, current: Settings) -> Settings:
    """The settings the race was run with (the limit N of its mode, when it had one)."""
    s = race.settings

    def number(name: str) -> float | None:
        value = s.get(name)
        return value if isinstance(value, int | float) else None

    tokens = number("max_tokens")
    limit = next((run.limit for run in race.runs if run.limit), None)
    return Settings(
        system=race.system or "",
        temperature=number("temperature"),
        max_tokens=None if tokens is None else int(tokens),
        timeout=number("timeout"),
        limit=limit or current.limit,
    )


async def show_stored(app: ModelRaceApp, race: StoredRace) -> None:
    """Put a stored race in the panels and on the timeline, as it looked when it ended.

    For a model race the dashboard takes its models, mode and settings, so a rerun (ctrl+r)
    sends the same prompt to the same models; a pipeline pass is only shown.
    """
    if app.racing:
        app.notify("A run is still streaming: Esc cancels it.", severity="warning")
        return
    if not race.runs:
        app.notify(f"Race {race.id} has nothing stored to show.", severity="warning")
        return
    results = race.runs[0].results
    if race.kind == "pipeline":
        titles = [f"{r.label} · {r.source}" for r in results]
    else:
        titles = [r.source for r in results]
        with contextlib.suppress(ModeError):
            app.mode = str(parse_mode(race.mode))
        models = [r.source for r in results]
        others = [ModelChoice(c.spec, False) for c in app.choices if c.spec not in models]
        app.choices = [ModelChoice(spec, True) for spec in models] + others
        app.settings = stored_settings(race, app.settings)
        app.last_prompt = race.prompt
    app.race = None
    app.stored_id = race.id
    await app._rebuild_panels(titles)
    app.timeline.clear()
    app.runs.clear()
    app.attach_runs(race.runs)
    # Short: the status bar drops it first when the speedup and walls need the room.
    app._show_run_label(
        f"stored {'pipeline' if race.kind == 'pipeline' else 'race'} {race.id}, read-only"
    )
    await app.continue_stored(race)
