"""`modelrace run` and `modelrace models`: the engine without the dashboard."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable

from providers.config import Config
from providers.environment import redact
from providers.race import Mode, Race, Runner
from providers.record import Result, State, document
from providers.registry import make_adapter
from providers.request import Request
from tui.report import full_report
from tui.text import visible

# The exit statuses of every command (DESIGN.md's contract, plus 130 for Ctrl-C).
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
PROGRESS_EVERY_S = 0.25


def run_headless(
    specs: list[str],
    request: Request,
    mode: Mode,
    config: Config,
    *,
    as_json: bool,
    save: bool = True,
) -> int:
    """Race, print the comparison (or JSON), exit 0 / 1 when a model failed / 130 on Ctrl-C."""
    race = Race([make_adapter(s, config) for s in specs], request, mode)
    interrupted = run_to_end(race, progress=sys.stderr.isatty(), describe=_brief)
    if as_json:
        print(export_json(document(request.prompt, race.runs)))
    else:
        # Model output is text: escape sequences are shown, never sent to the terminal.
        print(visible(full_report(race.runs)))
    if save:
        from tui.store_cli import save_race

        save_race(race, config, interrupted=interrupted)
    if interrupted:
        print("modelrace: interrupted; what had arrived is shown above", file=sys.stderr)
        return EXIT_INTERRUPTED
    ok = all(r.ok for run in race.runs for r in run.results)
    return EXIT_OK if ok else EXIT_FAILED


def export_json(doc: dict[str, object]) -> str:
    """The document as JSON, with anything key-shaped scrubbed: exports never carry keys."""
    return redact(json.dumps(doc, ensure_ascii=False))


def run_to_end(runner: Runner, *, progress: bool, describe: Callable[[Result], str]) -> bool:
    """Run to the end; True when Ctrl-C interrupted it (cancelled, what arrived kept)."""
    try:
        asyncio.run(_drive(runner, progress, describe))
    except KeyboardInterrupt:
        runner.cancel()
        return True
    return False


async def _drive(runner: Runner, progress: bool, describe: Callable[[Result], str]) -> None:
    ticker = asyncio.create_task(_progress(runner, describe)) if progress else None
    try:
        await runner.run()
    finally:
        if ticker is not None:
            ticker.cancel()
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


async def _progress(runner: Runner, describe: Callable[[Result], str]) -> None:
    """One line on stderr, rewritten in place: which run, its clock, where each part is."""
    while True:
        await asyncio.sleep(PROGRESS_EVERY_S)
        run = next((r for r in runner.runs if not r.over), None)
        if run is None:
            continue
        clock = 0.0 if run.t0 is None else time.perf_counter() - run.t0
        parts = " · ".join(describe(r) for r in run.results)
        sys.stderr.write(f"\r\x1b[K[{run.mode}] {clock:5.1f}s  " + parts[:160])
        sys.stderr.flush()


def _brief(result: Result) -> str:
    state = result.state
    return f"{result.model} " + (
        f"{len(result.chunks)} chunks" if state is State.STREAMING else str(state)
    )


def list_models(specs: list[str], config: Config, source: str) -> int:
    """Each model and whether it can be used now (key present, server reachable); no keys shown."""
    print(f"models ({source}):")
    width = max(len(s) for s in specs)
    for spec in specs:
        problem = make_adapter(spec, config).problem()
        verdict = "ready" if problem is None else "unusable"
        print(f"  {spec.ljust(width)}  {verdict}" + (f"  ({problem})" if problem else ""))
    for name, endpoint in config.endpoints.items():
        print(redact(f"endpoint {name}: {endpoint.base_url} (use {name}:MODEL)"))
    return EXIT_OK
