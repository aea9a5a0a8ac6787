"""`modelrace run` and `modelrace models`: the engine without the dashboard."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from providers.config import Config
from providers.environment import redact
from providers.pricing import CostSum, add_costs, cost_sum
from providers.race import Mode, Race, Runner
from providers.record import Result, Run, State, document
from providers.registry import make_adapter
from providers.request import FollowUp, Request
from tui.commands.report import full_report
from tui.text import visible

if TYPE_CHECKING:
    from providers.base import Adapter

# The exit statuses of every command (DESIGN.md's contract). Stopped by a signal: 128 + its
# number, as shells report it: 130 for Ctrl-C (SIGINT), 143 for SIGTERM.
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED, EXIT_TERMINATED = 128 + signal.SIGINT, 128 + signal.SIGTERM
PROGRESS_EVERY_S = 0.25


def run_headless(
    specs: list[str],
    request: Request,
    mode: Mode,
    config: Config,
    *,
    as_json: bool,
    save: bool = True,
    follow_up: FollowUp | None = None,
) -> int:
    """Race, print the comparison (or JSON), exit 0 / 1 when a model failed / 130 on Ctrl-C
    / 143 on SIGTERM.

    A model that cannot start at all is named on stderr before anything races, and left out;
    2 when that leaves none. A `follow_up` is a later turn of a stored conversation.
    """
    adapters, unusable = usable_adapters(specs, config)
    if not adapters:
        return EXIT_USAGE
    race = Race(adapters, request, mode, follow_up)
    interrupted = run_to_end(race, progress=sys.stderr.isatty(), describe=_brief)
    turn, parent_id = race.follow_up.turn, race.follow_up.parent_id
    chat = conversation_cost(parent_id, race.runs) if turn > 1 else None
    if as_json:
        doc = document(request.prompt, race.runs)
        if turn > 1:
            from providers.store.races import conversation_fields

            doc.update(conversation_fields(turn, parent_id))
            doc["conversation_cost_usd"] = None if chat is None else chat.to_json()
        print(export_json(doc))
    else:
        head = f"{turn_line(turn, parent_id, chat)}\n\n" if turn > 1 else ""
        # Model output is text: escape sequences are shown, never sent to the terminal.
        print(redact(visible(head + full_report(race.runs))))
    # Inside the caller's BrokenPipeError handler, not at exit where it would be "ignored".
    sys.stdout.flush()
    if save:
        from tui.commands.store import save_race

        save_race(race, config, interrupted=bool(interrupted))
    return exit_status(race.runs, interrupted, some_unusable=bool(unusable))


def turn_line(turn: int, parent_id: int | None, chat: CostSum | None = None) -> str:
    """Which turn of a conversation a race is, for its report, and what the conversation
    has cost so far (`chat`: every turn's requests, this one's included)."""
    line = f"turn {turn}" + ("" if parent_id is None else f" (follows race {parent_id})")
    return line if chat is None else f"{line} · chat cost {chat.text()}"


def conversation_cost(parent_id: int | None, runs: Sequence[Run[Any]]) -> CostSum | None:
    """A follow-up's conversation priced: the stored turns before it (priced from their
    stored tokens), plus `runs`, the turn itself. None when the earlier turns cannot be read."""
    from providers.arena.conversation import Conversation
    from providers.store import StoreError
    from providers.store.races import conversation

    if parent_id is None:
        return None
    try:
        earlier = Conversation.from_stored(conversation(parent_id)).cost
    except (StoreError, LookupError):
        return None
    return add_costs([earlier, cost_sum(r for run in runs for r in run.results)])


def exit_status(runs: Sequence[Run[Any]], interrupted: int, *, some_unusable: bool = False) -> int:
    """How a finished `run` or `pipeline` ends, once the report has been printed.

    `interrupted` is the status a signal asked for (130, 143) or 0.
    """
    if interrupted:
        print("modelrace: interrupted; what had arrived is shown above", file=sys.stderr)
        return interrupted
    ok = not some_unusable and all(r.ok for run in runs for r in run.results)
    return EXIT_OK if ok else EXIT_FAILED


def usable_adapters(
    specs: list[str], config: Config
) -> tuple[list[Adapter], list[tuple[str, str]]]:
    """The adapters that can start now, and (spec, why not) for the others, each of which is
    named on stderr ("skipping", or "cannot run" when none is left) before anything starts."""
    checked = check_models(specs, config)
    usable = [adapter for adapter, problem in checked if problem is None]
    unusable = [(spec, p) for spec, (_, p) in zip(specs, checked, strict=True) if p is not None]
    for spec, problem in unusable:
        verb = "skipping" if usable else "cannot run"
        print(redact(f"modelrace: {verb} {spec}: {problem}"), file=sys.stderr)
    return usable, unusable


def check_models(specs: list[str], config: Config) -> list[tuple[Adapter, str | None]]:
    """Each spec's adapter and why it cannot be used now (None: it can), in the given order.

    Looked at together, since a look may wait on the network (an Ollama that does not answer).
    """
    adapters = [make_adapter(s, config) for s in specs]
    with ThreadPoolExecutor(max_workers=min(8, len(adapters) or 1)) as pool:
        problems = list(pool.map(lambda adapter: adapter.problem(), adapters))
    return list(zip(adapters, problems, strict=True))


def export_json(doc: dict[str, object]) -> str:
    """The document as JSON, with anything key-shaped scrubbed: exports never carry keys."""
    return redact(json.dumps(doc, ensure_ascii=False))


def run_to_end(runner: Runner, *, progress: bool, describe: Callable[[Result], str]) -> int:
    """Run to the end; 0, or the exit status of the signal that stopped it (Ctrl-C: 130,
    SIGTERM: 143). Stopped, the runner is cancelled: nothing new starts, what arrived is kept.
    """
    terminated: list[int] = []
    try:
        asyncio.run(_drive(runner, progress, describe, terminated))
    except KeyboardInterrupt:
        runner.cancel()
        return EXIT_INTERRUPTED
    except asyncio.CancelledError:
        if not terminated:
            raise
        runner.cancel()
        return EXIT_TERMINATED
    return EXIT_OK


async def _drive(
    runner: Runner, progress: bool, describe: Callable[[Result], str], terminated: list[int]
) -> None:
    _on_sigterm(terminated)
    ticker = asyncio.create_task(_progress(runner, describe)) if progress else None
    try:
        await runner.run()
    finally:
        if ticker is not None:
            ticker.cancel()
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def _on_sigterm(terminated: list[int]) -> None:
    """SIGTERM ends the run as Ctrl-C does: cancel the calling task (hence the runner)."""
    task = asyncio.current_task()
    if task is None:
        return

    def stop() -> None:
        terminated.append(signal.SIGTERM)
        task.cancel()

    # Only the main thread of a Unix process can take signals; elsewhere SIGTERM stays default.
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop)


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
    return f"{result.source} " + (
        f"{len(result.chunks)} chunks" if state is State.STREAMING else str(state)
    )


def list_models(specs: list[str], config: Config, source: str) -> int:
    """Each model and whether it can be used now (key present, server reachable); no keys shown.

    Exit 1 when any is unusable, so a script can check its set before a race.
    """
    print(f"models ({source}):")
    width = max(len(s) for s in specs)
    checked = check_models(specs, config)
    for spec, (_, problem) in zip(specs, checked, strict=True):
        verdict = "ready" if problem is None else "unusable"
        print(f"  {spec.ljust(width)}  {verdict}" + (f"  ({problem})" if problem else ""))
    for name, endpoint in config.endpoints.items():
        print(redact(f"endpoint {name}: {endpoint.base_url} (use {name}:MODEL)"))
    # Inside the caller's BrokenPipeError handler, not at exit where it would be "ignored".
    sys.stdout.flush()
    return EXIT_OK if all(problem is None for _, problem in checked) else EXIT_FAILED
