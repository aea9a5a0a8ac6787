"""Plain-text reports of finished runs, for the terminal (`modelrace run`)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from providers.pricing import cost_sum, format_usd
from providers.record import (
    Result,
    Run,
    State,
    no_speedup_reason,
    no_speedup_vs_sync_reason,
    speedup,
    speedup_vs_sync,
)

FAIRNESS = (
    "Fair comparison: each run built its clients before its clock started and reused them "
    "for every request; sync and async used the same models, prompt and settings."
)


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: int = 0) -> str:
    """Plain text columns, two spaces apart and indented by two, for every CLI table.

    Columns from index `numeric` on hold figures and are right-aligned. Cells are Text, so a
    model name like `[bold]` stays literal; lines are never wrapped. Rich loads here, so
    `--json` never pays for it.
    """
    from rich.console import Console
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, padding=(0, 1), header_style="")
    for i, name in enumerate(header):
        right = bool(numeric) and i >= numeric
        table.add_column(name, justify="right" if right else "left", no_wrap=True)
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    out = io.StringIO()
    console = Console(file=out, width=10_000, color_system=None, highlight=False)
    console.print(Padding(table, (0, 0, 0, 2)))
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines())


def secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def _tokens(result: Result) -> str:
    tokens = result.output_tokens
    if tokens is None:
        return "-"
    return f"~{tokens}" if result.tokens_estimated else str(tokens)


def describe_mode(run: Run[Any]) -> str:
    if run.mode == "sync":
        return "sync clients, one after another, in a worker thread"
    if run.mode == "async":
        return "async clients, all at once on the event loop"
    if run.mode == "blocking":
        return (
            "sync clients called straight from async tasks, no to_thread: each one holds the loop"
        )
    if run.mode == "threads":
        return (
            f"sync clients on {run.pool_size} threads, the size of asyncio.to_thread's default pool"
        )
    return f"async clients, at most {run.limit} in flight"


def run_table(run: Run[Result]) -> str:
    """One row per model: status, TTFT, tok/s, tokens, total, cost; then wall, ideal,
    overhead and the run's cost."""
    header = ("model", "status", "TTFT", "tok/s", "tokens", "total", "cost")
    rows = []
    for r in run.results:
        tps = r.tokens_per_s
        rows.append(
            (
                r.source,
                str(r.state),
                secs(r.ttft),
                "-" if tps is None else f"{tps:.1f}",
                _tokens(r),
                secs(r.duration),
                format_usd(r.cost_usd),
            )
        )
    lines = [f"[{run.mode}] {describe_mode(run)}" + (" (cancelled)" if run.cancelled else "")]
    lines.append(text_table(header, rows, numeric=2))
    for r in run.results:
        if r.error and r.state is State.FAILED:
            lines.append(f"  ! {r.source}: {r.error}")
        if r.failed_attempts:
            lost = f"{r.retry_lost_s:.2f} s"
            first = r.failed_attempts[0].error
            lines.append(f"  ↻ {r.source}: {r.attempts} attempts, {lost} lost to retries ({first})")
    overhead = run.overhead_s
    lines.append(
        f"  wall {secs(run.wall_s)}   ideal {secs(run.ideal_s)}   overhead "
        + ("-" if overhead is None else f"{overhead * 1000:.0f} ms")
        + f"   cost {cost_sum(run.results).text()}"
    )
    lag = loop_lag_line(run)
    if lag:
        lines.append(f"  {lag}")
    return "\n".join(lines)


def stall_words(run: Run[Any]) -> str:
    """`the loop was stalled 5.9 s of 6.1 s`, or "" when the run was not measured."""
    lag, wall = run.loop_lag, run.wall_s
    if lag is None or wall is None:
        return ""
    return f"the loop was stalled {lag.stalled_s:.1f} s of {wall:.1f} s"


def loop_lag_line(run: Run[Any]) -> str:
    """The measured lag of the loop the run's tasks ran on (the worker loop for blocking)."""
    lag = run.loop_lag
    if lag is None:
        return ""
    line = f"loop lag max {lag.max_s * 1000:.0f} ms · p99 {lag.p99_s * 1000:.0f} ms · "
    line += stall_words(run)
    if lag.waiting_at_peak:
        waited = "task" if lag.waiting_at_peak == 1 else "tasks"
        line += f" · {lag.waiting_at_peak} {waited} waiting at the peak"
    return line


def answers(run: Run[Result]) -> str:
    """Every answer in full, so nothing the models wrote is lost on the terminal."""
    blocks = []
    for r in run.results:
        body = r.text.strip() or "(no text)"
        note = f" [{r.state}: {r.error}]" if r.error else ""
        blocks.append(f"--- {r.source} ({run.mode}){note}\n{body}")
    return "\n\n".join(blocks)


def conclusion(runs: Sequence[Run[Any]]) -> str:
    """The seed article's closing lines: both times and how much faster async was.

    Only when the two sides did the same work; otherwise one line saying why not, because a
    ratio of two walls where nothing (or something different) finished means nothing.
    """
    if not any(r.mode == "sync" for r in runs) or not any(r.mode == "async" for r in runs):
        return ""
    ratio = speedup(runs)
    if ratio is None:
        return f"No speedup: {no_speedup_reason(runs)}"
    sync = next(r for r in runs if r.mode == "sync")
    other = next(r for r in runs if r.mode == "async")
    lines = [f"Sync Time: {sync.wall_s:.2f}s"]
    lines += [_against_sync(runs, run) for run in runs if run.mode not in ("sync", "async")]
    lines.append(f"Async Time: {other.wall_s:.2f}s")
    if len(runs) > 2:
        lines[-1] += f" ({ratio:.2f}x vs sync)"
    if ratio > 1:
        lines.append(f"Conclusion: Async was {ratio:.2f}x faster!")
    else:
        lines.append("Conclusion: Async was not faster (overhead or network variance).")
    return "\n".join(lines)


def _against_sync(runs: Sequence[Run[Any]], run: Run[Any]) -> str:
    """`Blocking Time: 5.75s (1.00x vs sync; the loop was stalled 5.7 s of 5.8 s)`."""
    name = run.mode.capitalize()
    wall = "-" if run.wall_s is None else f"{run.wall_s:.2f}s"
    ratio = speedup_vs_sync(runs, run)
    versus = (
        f"{ratio:.2f}x vs sync"
        if ratio is not None
        else f"no speedup: {no_speedup_vs_sync_reason(runs, run)}"
    )
    if run.mode == "blocking" and stall_words(run):
        versus += f"; {stall_words(run)}"
    return f"{name} Time: {wall} ({versus})"


def full_report(runs: Sequence[Run[Result]]) -> str:
    parts = [answers(runs[-1]), *(run_table(run) for run in runs)]
    if len(runs) > 1:
        parts.append(FAIRNESS)
    end = conclusion(runs)
    if end:
        parts.append("-" * 30 + "\n" + end)
    return "\n\n".join(parts)
