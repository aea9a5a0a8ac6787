"""`modelrace bench`: its flags, their checks, and driving a bench to its end (or Ctrl-C).

Kept light at import (the parser imports it); the engine, Rich and plotext load on use.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
from typing import TYPE_CHECKING

from tui.commands.options import add_model_option

if TYPE_CHECKING:
    from providers.bench.repeat import RepeatBench
    from providers.bench.sweep import Sweep
    from providers.config import Config
    from providers.request import Request

DEFAULT_REPEAT = 10
DEFAULT_DURATION_S = 5.0
DEFAULT_WARMUP = 1


def add_bench_arguments(parser: argparse.ArgumentParser, spec_help: str) -> None:
    parser.add_argument("prompt", nargs="?", help="the prompt; '-' reads it from stdin")
    add_model_option(parser, spec_help)
    parser.add_argument(
        "--repeat", type=int, metavar="N", help=f"race N times (default {DEFAULT_REPEAT})"
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=DEFAULT_WARMUP,
        metavar="K",
        help="unmeasured races (sweep: requests per model) first; default "
        f"{DEFAULT_WARMUP}, as the first request pays for imports and connections",
    )
    parser.add_argument(
        "--mode",
        help="for --repeat: sync, async, both (the default), threads, blocking, all or limit=N",
    )
    parser.add_argument(
        "--concurrency",
        metavar="L1,L2,…",
        help="sweep: keep L requests in flight per model (closed loop), e.g. 1,2,4,8,16",
    )
    parser.add_argument(
        "--duration",
        type=float,
        metavar="S",
        help=f"sweep: seconds per level and model (default {DEFAULT_DURATION_S:g})",
    )
    parser.add_argument("--requests", type=int, metavar="N", help="sweep: requests per level")
    parser.add_argument("--plot", action="store_true", help="draw charts (plotext) after")
    parser.add_argument("--json", action="store_true", help="one JSON document, every sample")


def run_bench(specs: list[str], request: Request, args: argparse.Namespace, config: Config) -> int:
    """Check the flags, bench, report; exit 0 / 1 when a request failed / 2 / 130 on Ctrl-C."""
    from tui.commands.run import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, usable_adapters

    bench = _bench_from(args, request)
    adapters, unusable = usable_adapters(specs, config)
    if not adapters:
        return EXIT_USAGE
    bench.adapters = adapters
    interrupted = _drive(bench)
    from tui.commands import bench_report
    from tui.commands.run import export_json

    doc = bench.to_json(request.prompt)
    doc["interrupted"] = interrupted
    document = export_json(doc)
    if args.json:
        print(document)
    else:
        bench_report.print_report(bench, plot=args.plot)
    sys.stdout.flush()
    if not args.no_save:
        _save(bench, request, document, interrupted)
    if interrupted:
        print("modelrace: interrupted; what was measured is shown above", file=sys.stderr)
        return EXIT_INTERRUPTED
    from providers.bench.sweep import Sweep

    if isinstance(bench, Sweep):
        samples = [s for c in bench.cells for s in c.samples]
    else:
        samples = bench.samples
    failed = unusable or not samples or any(not s.ok for s in samples)
    return EXIT_FAILED if failed else EXIT_OK


def _save(bench: RepeatBench | Sweep, request: Request, document: str, interrupted: bool) -> None:
    """Keep the bench, Ctrl-C'd or not, after its report is out (a failure is one line)."""
    from providers.bench.sweep import Sweep
    from providers.store.benches import StoredBench
    from tui.commands.bench_report import report_text
    from tui.commands.store import save_bench

    if isinstance(bench, Sweep):
        kind, mode, top = "concurrency", "async", max(bench.levels)
    else:
        kind, mode, top = "repeat", str(bench.mode), None
    stored = StoredBench(
        prompt=request.prompt,
        models=bench.models,
        kind=kind,
        mode=mode,
        document=document,
        report=report_text(bench),
        interrupted=interrupted,
        concurrency=top,
    )
    save_bench(stored)


def _bench_from(args: argparse.Namespace, request: Request) -> RepeatBench | Sweep:
    """The bench the flags ask for, or UsageError with one line saying what is wrong."""
    from providers.bench.repeat import RepeatBench
    from providers.bench.sweep import Sweep, SweepError, parse_levels
    from providers.race import parse_mode
    from tui.cli import UsageError

    if args.warmup < 0:
        raise UsageError(f"--warmup must be 0 or more, not {args.warmup}")
    if args.concurrency is None:
        for flag in ("duration", "requests"):
            if getattr(args, flag) is not None:
                raise UsageError(f"--{flag} belongs to a sweep; add --concurrency 1,2,4,…")
        repeat = DEFAULT_REPEAT if args.repeat is None else args.repeat
        if repeat < 1:
            raise UsageError(f"--repeat must be at least 1, not {repeat}")
        mode = parse_mode(args.mode or "both")
        return RepeatBench([], request, mode, repeat, args.warmup)
    if args.repeat is not None:
        raise UsageError("--repeat and --concurrency are two benches; give one")
    if args.mode is not None and args.mode.strip().lower() != "async":
        raise UsageError("--concurrency sweeps async clients; leave out --mode")
    try:
        levels = parse_levels(args.concurrency)
    except SweepError as exc:
        raise UsageError(str(exc)) from None
    if args.duration is not None and args.requests is not None:
        raise UsageError("give --duration or --requests, not both")
    if args.duration is not None and not (args.duration > 0 and math.isfinite(args.duration)):
        raise UsageError(f"--duration must be a positive number of seconds, not {args.duration}")
    if args.requests is not None and args.requests < 1:
        raise UsageError(f"--requests must be at least 1, not {args.requests}")
    duration = args.duration
    if args.requests is None and duration is None:
        duration = DEFAULT_DURATION_S
    return Sweep([], request, levels, duration, args.requests, args.warmup)


def _drive(bench: RepeatBench | Sweep) -> bool:
    """Run the bench with a progress bar on stderr (a terminal only); True on Ctrl-C."""
    bar = None
    if sys.stderr.isatty():
        from tui.commands.bench_report import ProgressBar

        bar = ProgressBar()
    try:
        asyncio.run(bench.run(bar.update if bar is not None else None))
    except KeyboardInterrupt:
        return True
    finally:
        if bar is not None:
            bar.stop()
    return False
