"""The dashboard's bench screen: the `bench --concurrency` sweep, run live, charts filling in.

The charts are the same plotext drawings `bench --plot` prints, shown in a Static: one drawing
code for both. (textual-plotext wraps the same plotext in a widget; it would add a dependency
to redraw what a Static already shows, so it was not taken.) The sweep runs on the app's own
event loop, as `bench` runs it; Esc stops it, keeps what was measured and saves it.

A stored bench (reopened from the history screen) is shown by `StoredBenchScreen`: the same
charts, drawn from the samples its document keeps, and the report `bench` printed.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from providers.base import Adapter
from providers.bench.repeat import RepeatBench
from providers.bench.sweep import Sweep
from providers.request import Request
from tui.text import visible

if TYPE_CHECKING:
    from providers.bench.stored import StoredRepeat, StoredSweep
    from providers.store.benches import StoredBench

LEVELS = [1, 2, 4, 8]
SECONDS_PER_LEVEL = 2.0
WARMUP = 1


class BenchScreen(ModalScreen[None]):
    """A concurrency sweep of the enabled models with the prompt box's prompt."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "stop", "Stop / close")]

    def __init__(self, adapters: list[Adapter], request: Request) -> None:
        super().__init__(classes="modal bench-screen")
        self.request = request
        self.sweep = Sweep(adapters, request, LEVELS, SECONDS_PER_LEVEL, None, WARMUP)
        self.progress = "starting…"
        self.finished = False
        self.stopped = False
        self.saved: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="bench-dialog"):
            yield Static("Bench: concurrency sweep", classes="dialog-title")
            yield Static("", id="bench-status", markup=False)
            with VerticalScroll():
                with Horizontal(id="bench-charts"):
                    yield Static("", id="bench-sweep", markup=False)
                    yield Static("", id="bench-latency", markup=False)
                yield Static("", id="bench-advice", markup=False)

    def on_mount(self) -> None:
        self._status()
        self.run_sweep()

    @work(exclusive=True, group="bench")
    async def run_sweep(self) -> None:
        try:
            await self.sweep.run(self._progress)
        except asyncio.CancelledError:
            self.stopped = True
        finally:
            self.finished = True
            self._draw()
            self._status()
            self.save()

    def _progress(self, done: int, total: int, label: str) -> None:
        self.progress = f"{done}/{total} · {label}"
        self._draw()
        self._status()

    def _status(self) -> None:
        prompt = " ".join(self.request.prompt.split())
        prompt = prompt if len(prompt) <= 50 else prompt[:49] + "…"
        window = f"{SECONDS_PER_LEVEL:g} s a level and model"
        levels = ",".join(str(level) for level in LEVELS)
        if not self.finished:
            state = f"running {self.progress} (Esc stops and keeps what was measured)"
        else:
            state = "stopped: what was measured is shown" if self.stopped else "done"
            if self.saved:
                state += f" · {self.saved}"
            state += " · Esc closes"
        text = f"levels {levels}, closed loop, {window} · prompt: {prompt}\n{state}"
        self.query_one("#bench-status", Static).update(Text(visible(text)))

    def _draw(self) -> None:
        if not self.sweep.cells:
            return
        draw_sweep(self, self.sweep)
        advice = [self.sweep.advice(m) for m in self.sweep.models if self.sweep.of(m)]
        self.query_one("#bench-advice", Static).update(Text(visible("\n".join(advice))))

    @work(thread=True, group="bench-save")
    def save(self) -> None:
        """Into the run store like `bench` (blocking I/O, so on a thread)."""
        from providers.environment import one_line
        from providers.store import StoreError
        from providers.store.benches import StoredBench, save_bench
        from tui.commands.bench_report import report_text
        from tui.commands.run import export_json

        if not any(c.samples for c in self.sweep.cells):
            return
        doc = self.sweep.to_json(self.request.prompt)
        doc["interrupted"] = self.stopped
        stored = StoredBench(
            prompt=self.request.prompt,
            models=self.sweep.models,
            kind="concurrency",
            mode="async",
            document=export_json(doc),
            report=report_text(self.sweep),
            interrupted=self.stopped,
            concurrency=max(LEVELS),
        )
        try:
            bench_id = save_bench(stored)
        except (StoreError, Exception) as exc:
            message = f"not saved: {one_line(str(exc))}"
            self.app.call_from_thread(self.notify, message, severity="error", markup=False)
            return
        self.saved = f"saved as b{bench_id} (modelrace show b{bench_id})"
        self.app.call_from_thread(self._status)

    def action_stop(self) -> None:
        if not self.finished:
            self.workers.cancel_group(self, "bench")
            return
        self.dismiss(None)


def draw_sweep(screen: ModalScreen[None], sweep: Sweep) -> None:
    """Throughput and p99 TTFT against concurrency, and the TTFT boxes, side by side."""
    from tui.widgets import plots as bench_plots

    width = max(40, (screen.size.width - 8) // 2)
    charts = bench_plots.sweep_charts(sweep, width=width, height=12, color=True)
    screen.query_one("#bench-sweep", Static).update(Text.from_ansi(charts))
    latency = bench_plots.sweep_latency_chart(sweep, width=width, color=True)
    screen.query_one("#bench-latency", Static).update(Text.from_ansi(latency))


class StoredBenchScreen(ModalScreen[None]):
    """A stored bench, read-only: its charts from the stored samples, and its report."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, stored: StoredBench, bench: StoredSweep | StoredRepeat) -> None:
        super().__init__(classes="modal bench-screen")
        self.stored = stored
        self.bench = bench

    def compose(self) -> ComposeResult:
        with Vertical(classes="bench-dialog"):
            yield Static(f"Bench b{self.stored.id}: stored, read-only", classes="dialog-title")
            yield Static("", id="bench-status", markup=False)
            with VerticalScroll(id="bench-scroll"):
                with Horizontal(id="bench-charts"):
                    yield Static("", id="bench-sweep", markup=False)
                    yield Static("", id="bench-latency", markup=False)
                yield Static("", id="bench-report", markup=False)

    def on_mount(self) -> None:
        from tui.commands.store import _excerpt, _when

        b = self.stored
        if isinstance(self.bench, RepeatBench):
            kind = f"repeat {self.bench.repeat} · mode {b.mode}"
        else:
            kind = "concurrency " + ",".join(str(level) for level in self.bench.levels)
        state = " · interrupted" if b.interrupted else ""
        text = (
            f"{_when(b.created or '')} · {kind} · {b.n_samples} samples{state}"
            f" · prompt: {_excerpt(b.prompt)}\nEsc closes · ↑ ↓ scroll"
        )
        self.query_one("#bench-status", Static).update(Text(visible(text)))
        self.query_one("#bench-report", Static).update(Text(visible(b.report.rstrip())))
        self.query_one("#bench-scroll", VerticalScroll).focus()
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        from providers.bench.stored import StoredSweep
        from tui.widgets import plots as bench_plots

        if isinstance(self.bench, StoredSweep):
            if self.bench.cells:
                draw_sweep(self, self.bench)
            return
        self.query_one("#bench-latency", Static).display = False
        chart = bench_plots.ttft_chart(self.bench, width=max(40, self.size.width - 8), color=True)
        self.query_one("#bench-sweep", Static).update(Text.from_ansi(chart))

    def action_close(self) -> None:
        self.dismiss(None)
