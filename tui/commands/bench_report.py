"""What `modelrace bench` prints: Rich tables, the one-sentence answer, plotext charts.

Model names and errors are text, never markup: they go into `Text` cells, made visible.
"""

from __future__ import annotations

import sys
from typing import TextIO

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from providers.bench.repeat import RepeatBench
from providers.bench.samples import Summary
from providers.bench.stats import QUANTILE_METHOD
from providers.bench.sweep import Sweep
from tui.text import visible

# Wide enough for the repeat table when stdout is a pipe (Rich would otherwise use 80).
PIPE_WIDTH = 160


class ProgressBar:
    """A Rich progress bar on stderr, fed by the bench's (done, total, label) callback."""

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(file=sys.stderr),
            transient=True,
        )
        self._task = self._progress.add_task("bench", total=None)
        self._progress.start()

    def update(self, done: int, total: int, label: str) -> None:
        self._progress.update(self._task, completed=done, total=total, description=label)

    def stop(self) -> None:
        self._progress.stop()


def console(file: TextIO | None = None) -> Console:
    out = file or sys.stdout
    width = None if out.isatty() else PIPE_WIDTH
    return Console(file=out, width=width, highlight=False, soft_wrap=False)


def report_text(bench: RepeatBench | Sweep) -> str:
    """The report as plain text at the pipe width, as the run store keeps it."""
    import io

    buffer = io.StringIO()
    out = Console(file=buffer, width=PIPE_WIDTH, highlight=False, soft_wrap=False)
    _report(out, bench)
    return buffer.getvalue()


def print_report(bench: RepeatBench | Sweep, *, plot: bool = False) -> None:
    out = console()
    _report(out, bench)
    if plot:
        from tui.widgets import plots as bench_plots

        if isinstance(bench, Sweep):
            charts = bench_plots.sweep_charts(bench)
        else:
            charts = bench_plots.ttft_chart(bench)
        out.file.write("\n" + charts + "\n")


def _report(out: Console, bench: RepeatBench | Sweep) -> None:
    if isinstance(bench, Sweep):
        _sweep_report(out, bench)
    else:
        _repeat_report(out, bench)


def _s(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f}ms" if value < 1 else f"{value:.2f}s"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _repeat_report(out: Console, bench: RepeatBench) -> None:
    out.print(
        Text(
            f"bench: {bench.races_done} of {bench.repeat} races measured"
            + (f" after {bench.warmup} warm-up" if bench.warmup else "")
            + f", mode {bench.mode}. Percentiles: statistics.quantiles, method "
            f"'{QUANTILE_METHOD}'; ITL as genai-perf, (e2e − TTFT)/(tokens − 1); "
            "tok/s/req: output tokens / e2e, median."
        )
    )
    notes: list[str] = []
    summaries = bench.summaries()
    for side in bench.sides:
        table = Table(
            title=Text(f"[{side}]"), title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False
        )
        table.add_column("model", overflow="fold", min_width=10)
        for name in ("n", "fail", "TTFT\np50", "\np90", "\np99", "ITL\np50", "\np99"):
            table.add_column(name, justify="right", no_wrap=True)
        for name in ("e2e\np50", "\np99", "tok/s\n/req"):
            table.add_column(name, justify="right", no_wrap=True)
        for summary in (s for s in summaries if s.side == side):
            table.add_row(*_summary_row(summary))
            notes.extend(_failure_note(summary))
        out.print(table)
    for note in notes:
        out.print(Text(note))
    if str(bench.mode) == "both":
        out.print(Text(_speedup_line(bench)))


def _failure_note(s: Summary) -> list[str]:
    if s.all_failed:
        return [f"{s.model} ({s.side}): every request failed: {visible(s.first_error or '')}"]
    if s.failures:
        first = visible(s.first_error or "")
        return [f"{s.model} ({s.side}): {s.failures} of {s.n} failed, first: {first}"]
    return []


def _summary_row(s: Summary) -> list[Text | str]:
    if s.all_failed or s.n == 0:
        return [Text(s.model), str(s.n), f"all {s.n}" if s.n else "-", *["-"] * 8]
    head: list[Text | str] = [Text(s.model), str(s.n), str(s.failures)]
    return [
        *head,
        _s(s.ttft["p50"]),
        _s(s.ttft["p90"]),
        _s(s.ttft["p99"]),
        _s(s.itl["p50"]),
        _s(s.itl["p99"]),
        _s(s.e2e["p50"]),
        _s(s.e2e["p99"]),
        _rate(s.tokens_per_s["p50"]),
    ]


def _speedup_line(bench: RepeatBench) -> str:
    interval = bench.speedup_interval()
    if interval is None:
        why = bench.no_speedup or "no race ran both sides to the end"
        return f"speedup (sync wall / async wall): none, because {why}"
    median, low, high = interval
    return (
        f"speedup (sync wall / async wall): median {median:.2f}x, 95% bootstrap interval "
        f"{low:.2f}x–{high:.2f}x over {len(bench.speedups)} races"
    )


def _sweep_report(out: Console, sweep: Sweep) -> None:
    window = f"{sweep.duration:g} s per level" if sweep.duration else f"{sweep.requests} requests"
    out.print(
        Text(
            f"concurrency sweep: closed loop, {window} and model, async clients. "
            f"Percentiles: statistics.quantiles, method '{QUANTILE_METHOD}'."
        )
    )
    for model in sweep.models:
        cells = sweep.of(model)
        if not cells:
            continue
        table = Table(title=Text(model), title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
        table.add_column("limit", justify="right", no_wrap=True)
        for name in ("requests", "req/s", "out\ntok/s", "TTFT\np50", "\np99", "e2e\np50", "\np99"):
            table.add_column(name, justify="right", no_wrap=True)
        table.add_column("errors", justify="right", no_wrap=True)
        for c in cells:
            table.add_row(
                str(c.level),
                str(len(c.samples)),
                f"{c.requests_per_s:.2f}",
                f"{c.tokens_per_s:.1f}",
                _s(c.ttft["p50"]),
                _s(c.ttft["p99"]),
                _s(c.e2e["p50"]),
                _s(c.e2e["p99"]),
                f"{100 * c.error_rate:.0f}%",
            )
        out.print(table)
        failed = [c for c in cells if c.samples and not c.ok]
        if len(failed) == len(cells):
            out.print(Text(f"every request failed: {visible(cells[0].first_error or '')}"))
    for model in sweep.models:
        if sweep.of(model):
            out.print(Text(sweep.advice(model)))
