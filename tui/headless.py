"""`modelrace run` and `modelrace models`: the engine without the dashboard."""

from __future__ import annotations

import asyncio
import json
import sys
import time

from providers.config import Config
from providers.race import Mode, Race
from providers.record import Run, State, speedup
from providers.registry import make_adapter
from providers.request import Request
from tui.report import full_report

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130
PROGRESS_EVERY_S = 0.25


def run_headless(
    specs: list[str], request: Request, mode: Mode, config: Config, *, as_json: bool
) -> int:
    """Race, print the comparison (or JSON), exit 0 / 1 when a model failed / 130 on Ctrl-C."""
    race = Race([make_adapter(s, config) for s in specs], request, mode)
    interrupted = False
    try:
        asyncio.run(_drive(race, progress=sys.stderr.isatty()))
    except KeyboardInterrupt:
        interrupted = True
        race.cancel()
    if as_json:
        print(json.dumps(document(request.prompt, race.runs), ensure_ascii=False))
    else:
        print(full_report(race.runs))
    if interrupted:
        print("modelrace: interrupted; what had arrived is shown above", file=sys.stderr)
        return EXIT_INTERRUPTED
    ok = all(r.ok for run in race.runs for r in run.results)
    return EXIT_OK if ok else EXIT_FAILED


def document(prompt: str, runs: list[Run]) -> dict[str, object]:
    """The `run --json` contract from DESIGN.md (extra keys only add to it)."""
    ratio = speedup(runs)
    return {
        "prompt": prompt,
        "runs": [run.to_json() for run in runs],
        "speedup": None if ratio is None else round(ratio, 4),
    }


async def _drive(race: Race, *, progress: bool) -> None:
    ticker = asyncio.create_task(_progress(race)) if progress else None
    try:
        await race.run()
    finally:
        if ticker is not None:
            ticker.cancel()
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


async def _progress(race: Race) -> None:
    """One line on stderr, rewritten in place: which run, its clock, each model's state."""
    while True:
        await asyncio.sleep(PROGRESS_EVERY_S)
        run = next((r for r in race.runs if not r.over), None)
        if run is None:
            continue
        clock = 0.0 if run.t0 is None else time.perf_counter() - run.t0
        parts = [f"{r.model} {_brief(r.state, len(r.chunks))}" for r in run.results]
        sys.stderr.write(f"\r\x1b[K[{run.mode}] {clock:5.1f}s  " + " · ".join(parts)[:160])
        sys.stderr.flush()


def _brief(state: State, chunks: int) -> str:
    return f"{chunks} chunks" if state is State.STREAMING else str(state)


def list_models(specs: list[str], config: Config, source: str) -> int:
    """Each model and whether it can be used now (key present, server reachable); no keys shown."""
    print(f"models ({source}):")
    width = max(len(s) for s in specs)
    for spec in specs:
        problem = make_adapter(spec, config).problem()
        verdict = "ready" if problem is None else "unusable"
        print(f"  {spec.ljust(width)}  {verdict}" + (f"  ({problem})" if problem else ""))
    for name, endpoint in config.endpoints.items():
        print(f"endpoint {name}: {endpoint.base_url} (use {name}:MODEL)")
    return EXIT_OK
