"""`modelrace pipeline FILE`: run a pipeline headless and print where the time went.

The report answers the seed article's question for a graph of steps: which steps ran
together, which chain of dependent steps decided the wall time (the critical path), and what
running it concurrently bought over running it one step at a time.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from providers.config import Config
from providers.echo import error_line
from providers.environment import redact
from providers.pipeline import (
    PipelineError,
    PipelinePass,
    PipelineRunner,
    load_pipeline,
    parse_pipeline_mode,
)
from providers.race import ModeError
from providers.record import Result, State
from tui.commands.report import conclusion, loop_lag_line, secs, stall_words, text_table
from tui.commands.run import EXIT_USAGE, document, exit_status, export_json, run_to_end
from tui.text import visible

ARROW = " → "


def run_pipeline_command(
    path: str, input_text: str, mode: str, config: Config, *, as_json: bool, save: bool = True
) -> int:
    """Parse, run, report: exit 0 all steps ok / 1 some failed or skipped / 2 usage / 130
    Ctrl-C / 143 SIGTERM."""
    try:
        pipeline = load_pipeline(path, config)
        pipe = PipelineRunner(pipeline, input_text, parse_pipeline_mode(mode), config)
    except (PipelineError, ModeError) as exc:
        print(f"modelrace: {error_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    interrupted = run_to_end(pipe, progress=sys.stderr.isatty(), describe=_brief)
    if as_json:
        doc = document(pipe.input, pipe.runs)
        doc["pipeline"] = pipeline.name
        print(export_json(doc))
    else:
        # The one scrubbing rule (providers.environment.redact), as for --json: a fetched key
        # must not reach the terminal.
        print(redact(visible(pipeline_report(pipe.runs))))
    sys.stdout.flush()
    if save:
        from tui.commands.store import save_pipeline

        save_pipeline(pipe, config, interrupted=bool(interrupted))
    return exit_status(pipe.runs, interrupted)


def _rel(t: float | None, t0: float | None) -> float | None:
    return None if t is None or t0 is None else t - t0


def _status(r: Result) -> str:
    """A skipped step shows as skipped, not as the failure it is recorded as."""
    return str(r.error_kind) if r.skipped else str(r.state)


def describe_pass(run: PipelinePass) -> str:
    if run.mode == "blocking":
        return "blocking: a task per step, but each calls sync clients and time.sleep itself"
    if run.concurrent:
        return "async: every step starts as soon as the steps it waits for have finished"
    return "sync: one step at a time in file order, sync clients and time.sleep, in a thread"


def pass_table(run: PipelinePass) -> str:
    """One row per step, times from the start of the pass; `*` marks the critical path."""
    run.mark_critical()
    header = ("step", "kind", "does", "status", "start", "end", "took", "")
    rows = []
    for r in run.steps:
        rows.append(
            (
                r.step,
                r.kind,
                r.source if len(r.source) <= 40 else r.source[:39] + "…",
                _status(r),
                secs(_rel(r.start, run.t0)),
                secs(_rel(r.end, run.t0)),
                secs(r.duration),
                "*" if r.critical else "",
            )
        )
    title = f"[{run.mode}] {run.pipeline}: {describe_pass(run)}"
    lines = [title + (" (cancelled)" if run.cancelled else "")]
    lines.append(text_table(header, rows, numeric=4))
    if run.mode == "blocking" and loop_lag_line(run):
        lines.append(f"  {loop_lag_line(run)}")
    for r in run.steps:
        if r.error and r.state is State.FAILED:
            lines.append(f"  ! {r.step}: {r.error}")
    path = run.critical_path
    ideal_what = "critical path" if run.concurrent else "sum of the steps"
    overhead = run.overhead_s
    lines.append(
        f"  wall {secs(run.wall_s)}   ideal {secs(run.ideal_s)} ({ideal_what})   overhead "
        + ("-" if overhead is None else f"{overhead * 1000:.0f} ms")
    )
    if path:
        label = "critical path" if run.concurrent else "longest chain"
        lines.append(f"  {label}: {ARROW.join(path)}")
    return "\n".join(lines)


def outputs(run: PipelinePass) -> str:
    """Each step's text; LLM answers in full, since they are what the user came for."""
    blocks = []
    for r in run.steps:
        body = r.text.strip() or "(no text)"
        if r.kind != "llm" and len(body) > 400:
            body = body[:399] + "…"
        note = f" [{_status(r)}: {r.error}]" if r.error else ""
        blocks.append(f"--- {r.step} ({r.source}, {run.mode}){note}\n{body}")
    return "\n\n".join(blocks)


def summary(runs: Sequence[PipelinePass]) -> str:
    """Sequential against concurrent against the ideal, and the chain that cost the time."""
    sync = next((r for r in runs if not r.concurrent and r.wall_s), None)
    conc = next((r for r in runs if r.mode == "async" and r.wall_s), None)
    blocking = next((r for r in runs if r.mode == "blocking" and r.wall_s), None)
    lines = []
    if sync is not None:
        lines.append(f"Sequential (sync): {secs(sync.wall_s)}" + _cut(sync))
    if blocking is not None:
        words = stall_words(blocking)
        lines.append(
            f"Blocking (tasks, sync calls): {secs(blocking.wall_s)}"
            + _cut(blocking)
            + (f"   {words}" if words else "")
        )
    if conc is not None:
        lines.append(f"Concurrent (async): {secs(conc.wall_s)}" + _cut(conc))
        lines.append(
            f"Ideal (critical path): {secs(conc.ideal_s)}   {ARROW.join(conc.critical_path)}"
        )
    end = conclusion(runs)
    if end:
        lines.append(end.splitlines()[-1])
    return "\n".join(lines)


def _cut(run: PipelinePass) -> str:
    return " (cancelled)" if run.cancelled else ""


def pipeline_report(runs: Sequence[PipelinePass]) -> str:
    parts = [outputs(runs[-1]), *(pass_table(run) for run in runs)]
    end = summary(runs)
    if end:
        parts.append("-" * 30 + "\n" + end)
    return "\n\n".join(parts)


def _brief(r: Result) -> str:
    if r.state is State.WAITING and r.start is None:
        return f"{r.label} pending"
    if r.state is State.STREAMING:
        return f"{r.label} {len(r.chunks)} chunks"
    return f"{r.label} {_status(r)}"
