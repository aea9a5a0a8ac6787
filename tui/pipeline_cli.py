"""`modelrace pipeline FILE`: run a pipeline headless and print where the time went.

The report answers the seed article's question for a graph of steps: which steps ran
together, which chain of dependent steps decided the wall time (the critical path), and what
running it concurrently bought over running it one step at a time.
"""

from __future__ import annotations

import sys

from providers.config import Config
from providers.pipeline import (
    PipelineError,
    PipelinePass,
    PipelineRun,
    StepResult,
    load_pipeline,
    parse_pipeline_mode,
)
from providers.race import ModeError
from providers.record import State
from tui.headless import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    document,
    export_json,
    run_to_end,
)
from tui.report import conclusion
from tui.text import visible

ARROW = " → "


def run_pipeline_command(
    path: str, input_text: str, mode: str, config: Config, *, as_json: bool, save: bool = True
) -> int:
    """Parse, run, report: exit 0 all steps ok / 1 some failed or skipped / 2 usage / 130."""
    try:
        pipeline = load_pipeline(path, config)
        pipe = PipelineRun(pipeline, input_text, parse_pipeline_mode(mode), config)
    except (PipelineError, ModeError) as exc:
        print(f"modelrace: {exc}", file=sys.stderr)
        return EXIT_USAGE
    interrupted = run_to_end(pipe, progress=sys.stderr.isatty(), describe=_brief)
    if as_json:
        doc = document(pipe.input, pipe.runs)  # type: ignore[arg-type]
        doc["pipeline"] = pipeline.name
        print(export_json(doc))
    else:
        print(visible(pipeline_report(pipe)))
    if save:
        from tui.store_cli import save_pipeline

        save_pipeline(pipe, config, interrupted=interrupted)
    if interrupted:
        print("modelrace: interrupted; what had arrived is shown above", file=sys.stderr)
        return EXIT_INTERRUPTED
    ok = all(r.ok for run in pipe.runs for r in run.results)
    return EXIT_OK if ok else EXIT_FAILED


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def _rel(t: float | None, t0: float | None) -> float | None:
    return None if t is None or t0 is None else t - t0


def _status(r: StepResult) -> str:
    return SKIPPED_LABEL if r.skipped else str(r.state)


SKIPPED_LABEL = "skipped"


def describe_pass(run: PipelinePass) -> str:
    if run.concurrent:
        return "async: every step starts as soon as the steps it waits for have finished"
    return "sync: one step at a time in file order, sync clients and time.sleep, in a thread"


def pass_table(run: PipelinePass) -> str:
    """One row per step, times from the start of the pass; `*` marks the critical path."""
    run.mark_critical()
    header = ("step", "kind", "does", "status", "start", "end", "took", "")
    rows = [header]
    for r in run.steps:
        rows.append(
            (
                r.step,
                r.kind,
                r.model if len(r.model) <= 40 else r.model[:39] + "…",
                _status(r),
                _secs(_rel(r.start, run.t0)),
                _secs(_rel(r.end, run.t0)),
                _secs(r.duration),
                "*" if r.critical else "",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    title = f"[{run.mode}] {run.pipeline}: {describe_pass(run)}"
    lines = [title + (" (cancelled)" if run.cancelled else "")]
    for row in rows:
        cells = [cell.ljust(w) for cell, w in zip(row[:4], widths[:4], strict=True)]
        cells += [cell.rjust(w) for cell, w in zip(row[4:7], widths[4:7], strict=True)]
        cells.append(row[7])
        lines.append("  " + "  ".join(cells).rstrip())
    for r in run.steps:
        if r.error and r.state is State.FAILED:
            lines.append(f"  ! {r.step}: {r.error}")
    path = run.critical_path
    ideal_what = "critical path" if run.concurrent else "sum of the steps"
    overhead = run.overhead_s
    lines.append(
        f"  wall {_secs(run.wall_s)}   ideal {_secs(run.ideal_s)} ({ideal_what})   overhead "
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
        blocks.append(f"--- {r.step} ({r.model}, {run.mode}){note}\n{body}")
    return "\n\n".join(blocks)


def summary(pipe: PipelineRun) -> str:
    """Sequential against concurrent against the ideal, and the chain that cost the time."""
    sync = next((r for r in pipe.runs if not r.concurrent and r.wall_s), None)
    conc = next((r for r in pipe.runs if r.concurrent and r.wall_s), None)
    lines = []
    if sync is not None:
        lines.append(f"Sequential (sync): {_secs(sync.wall_s)}" + _cut(sync))
    if conc is not None:
        lines.append(f"Concurrent (async): {_secs(conc.wall_s)}" + _cut(conc))
        lines.append(
            f"Ideal (critical path): {_secs(conc.ideal_s)}   {ARROW.join(conc.critical_path)}"
        )
    end = conclusion(pipe.runs)  # type: ignore[arg-type]
    if end:
        lines.append(end.splitlines()[-1])
    return "\n".join(lines)


def _cut(run: PipelinePass) -> str:
    return " (cancelled)" if run.cancelled else ""


def pipeline_report(pipe: PipelineRun) -> str:
    parts = [outputs(pipe.runs[-1]), *(pass_table(run) for run in pipe.runs)]
    end = summary(pipe)
    if end:
        parts.append("-" * 30 + "\n" + end)
    return "\n\n".join(parts)


def _brief(r: StepResult) -> str:
    if r.state is State.WAITING and r.start is None:
        return f"{r.step} pending"
    if r.state is State.STREAMING:
        return f"{r.step} {len(r.chunks)} chunks"
    return f"{r.step} {_status(r)}"
