"""`history`, `show`, `export`, `delete`, and saving what `run` and `pipeline` raced.

The store and its documents live in `providers.store`; this module parses, prints, and turns
a store failure into one line. Saving failures never change what a race printed or its exit
status: the race was shown before the store was touched.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui.commands.run import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from tui.text import visible

if TYPE_CHECKING:  # the store is imported only by the commands that use it
    from rich.text import Text

    from providers.config import Config
    from providers.pricing import CostSum
    from providers.store import StoredRace, Summary
    from providers.textdiff import Piece
    from tui.app import ModelRaceApp

COMMANDS = ("history", "show", "export", "delete", "replay")
EXCERPT = 40


def add_commands(commands: Any) -> None:
    """Register the store's commands on the main parser's subcommands."""
    hist = commands.add_parser("history", help="stored races, newest first")
    hist.add_argument("--search", metavar="TEXT", help="only races whose prompt or models match")
    hist.add_argument("--limit", type=int, default=20, metavar="N", help="at most N (0: all)")
    hist.add_argument("--json", action="store_true", help="one JSON document on stdout")
    hist.add_argument("--bench", action="store_true", help="stored benches (ids b1, b2…)")

    show = commands.add_parser("show", help="the report of a stored race or bench (bN)")
    show.add_argument("id", type=_race_or_bench, metavar="ID")
    how = show.add_mutually_exclusive_group()
    how.add_argument(
        "--json", action="store_true", help="the race's `run --json` (bench's `--json`) document"
    )
    how.add_argument("--markdown", action="store_true", help="the Markdown export")
    how.add_argument(
        "--diff",
        nargs=2,
        metavar=("A", "B"),
        help="word-level diff of two answers of the race: model specs or 1-based positions",
    )

    exp = commands.add_parser(
        "export", help="a stored race as JSON, Markdown, HTML or SVG (a bench, bN: JSON, md, html)"
    )
    exp.add_argument("id", type=_race_or_bench, metavar="ID")
    exp.add_argument("--format", required=True, choices=("json", "md", "html", "svg"))
    exp.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")

    rm = commands.add_parser("delete", help="delete stored races and benches (bN)")
    rm.add_argument("ids", type=_race_or_bench, nargs="+", metavar="ID")

    rep = commands.add_parser(
        "replay",
        help="the dashboard, ready to replay a stored race",
        description="Open the dashboard with every model of stored race ID as replay:ID:SPEC "
        "and its prompt in the prompt box: Enter replays the race at its recorded pace.",
    )
    rep.add_argument("id", type=int, metavar="ID")


def add_no_save(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-save", action="store_true", help="do not keep it in the run store")


def run_command(args: argparse.Namespace) -> int:
    from providers.store import StoreError, UnknownRace
    from providers.store.benches import UnknownBench

    try:
        if args.command == "history" and args.bench:
            return _bench_history(args.search, args.limit, args.json)
        if args.command == "history":
            return _history(args.search, args.limit, args.json)
        if args.command == "show" and args.diff and isinstance(args.id, str):
            return _fail(f"{args.id} is a bench: only a race's answers diff", EXIT_USAGE)
        if args.command == "show" and args.diff:
            return _show_diff(args.id, *args.diff)
        if args.command == "show" and isinstance(args.id, str):
            return _show_bench(args.id, as_json=args.json, markdown=args.markdown)
        if args.command == "show":
            return _show(args.id, as_json=args.json, markdown=args.markdown)
        if args.command == "export" and isinstance(args.id, str):
            return _export_bench(args.id, args.format, args.output)
        if args.command == "export":
            return _export(args.id, args.format, args.output)
        if args.command == "replay":
            return _replay(args.id)
        return _delete(args.ids)
    except UnknownRace as exc:
        return _fail(f"no stored race has id {exc.args[0]} (see modelrace history)", EXIT_USAGE)
    except UnknownBench as exc:
        return _fail(f"no stored bench has id b{exc.args[0]} (see modelrace history --bench)", 2)
    except StoreError as exc:
        return _fail(str(exc), EXIT_FAILED)


def _race_or_bench(text: str) -> int | str:
    """A race id (3) or a bench id (b3); argparse turns ValueError into a usage line."""
    from providers.store.benches import parse_id

    if parse_id(text) is not None:
        return text.strip().lower()
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a race id (3) nor a bench id (b3)"
        ) from None


def _fail(message: str, status: int) -> int:
    print(f"modelrace: {message}", file=sys.stderr)
    return status


# --- saving -------------------------------------------------------------------------------


def save_race(race: Any, config: Config, *, interrupted: bool) -> int | None:
    from providers.store import from_race

    return _save(lambda: from_race(race, interrupted=interrupted), config)


def save_pipeline(pipe: Any, config: Config, *, interrupted: bool) -> int | None:
    from providers.store import from_pipeline

    return _save(lambda: from_pipeline(pipe, interrupted=interrupted), config)


def keep(race: Any, config: Config, *, interrupted: bool) -> int | str:
    """Save a race or a pipeline pass (blocking: call it off the event loop); its id, or one
    line saying why it was not kept. Never raises: the caller still shows the race."""
    from providers.pipeline import PipelineRunner
    from providers.store import from_pipeline, from_race

    build = from_pipeline if isinstance(race, PipelineRunner) else from_race
    return _try_save(lambda: build(race, interrupted=interrupted), config)


def _try_save(build: Callable[[], StoredRace], config: Config) -> int | str:
    from providers.store import StoreError, save

    try:
        return save(build(), keep=config.keep_runs)
    except StoreError as exc:
        return str(exc)
    except Exception as exc:  # a bug in saving must not turn a finished race into a traceback
        from providers.environment import one_line

        return one_line(repr(exc))


def _save(build: Callable[[], StoredRace], config: Config) -> int | None:
    """Keep it; on failure one line on stderr, and the caller carries on as if saved."""
    race_id = _try_save(build, config)
    if isinstance(race_id, str):
        print(f"modelrace: not saved: {race_id}", file=sys.stderr)
        return None
    if sys.stderr.isatty():
        print(f"modelrace: saved as race {race_id} (modelrace show {race_id})", file=sys.stderr)
    return race_id


def save_bench(bench: Any) -> int | None:
    """Keep a bench (its `--json` document and report); on failure one line on stderr."""
    from providers.store import StoreError
    from providers.store.benches import save_bench as save

    try:
        bench_id = save(bench)
    except StoreError as exc:
        print(f"modelrace: not saved: {exc}", file=sys.stderr)
        return None
    except Exception as exc:  # a bug in saving must not turn a measured bench into a traceback
        from providers.environment import one_line

        print(f"modelrace: not saved: {one_line(repr(exc))}", file=sys.stderr)
        return None
    if sys.stderr.isatty():
        print(
            f"modelrace: saved as bench b{bench_id} (modelrace show b{bench_id})", file=sys.stderr
        )
    return bench_id


# --- commands -----------------------------------------------------------------------------


def _when(created: str) -> str:
    try:
        return datetime.fromisoformat(created).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return created


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT else flat[: EXCERPT - 1] + "…"


def _walls(summary: Summary) -> str:
    parts = [f"{mode} {'-' if w is None else f'{w:.2f}s'}" for mode, w in summary.walls]
    return " · ".join(parts)


def _history(search: str | None, limit: int, as_json: bool) -> int:
    if limit < 0:
        return _fail(f"--limit must be 0 (all) or more, not {limit}", EXIT_USAGE)
    from providers.store import default_path, history

    rows = history(search, limit or None)
    if as_json:
        print(to_json_list(rows))
        return EXIT_OK
    if not rows:
        where = "matching that search " if search else ""
        print(f"no races {where}stored in {default_path()}")
        return EXIT_OK
    table = [("id", "when", "mode", "models", "prompt", "wall", "speedup")]
    for s in rows:
        ratio = "-" if s.speedup is None else f"{s.speedup:.2f}x"
        models = ", ".join(s.models) if s.kind == "race" else f"pipeline ({len(s.models)} steps)"
        table.append(
            (
                str(s.id),
                _when(s.created),
                s.mode + (" (interrupted)" if s.interrupted else ""),
                models if len(models) <= 40 else models[:39] + "…",
                _excerpt(s.prompt),
                _walls(s),
                ratio,
            )
        )
    _print_table(table)
    return EXIT_OK


def _print_table(table: Sequence[tuple[str, ...]]) -> None:
    """Columns padded to their widest cell, the id right-aligned; model text shown, not run."""
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        cells = [row[0].rjust(widths[0])]
        cells += [c.ljust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        print(visible("  ".join(cells).rstrip()))


def to_json_list(rows: list[Summary]) -> str:
    import json

    from providers.environment import redact

    return redact(json.dumps([s.to_json() for s in rows], ensure_ascii=False))


def text_report(race: StoredRace) -> str:
    """What `run` (or `pipeline`) printed for this race, under a line saying which it is."""
    if race.kind == "pipeline":
        from providers.pipeline import PipelinePass
        from tui.commands.pipeline import pipeline_report

        body = pipeline_report([run for run in race.runs if isinstance(run, PipelinePass)])
    else:
        from tui.commands.report import full_report

        body = full_report(race.runs)
    head = f"race {race.id} · {_when(race.created or '')} · mode {race.mode}"
    if race.turn_number > 1:
        from tui.commands.run import turn_line

        head += f" · {turn_line(race.turn_number, race.parent_id, _chat_cost(race))}"
    if race.interrupted:
        head += " · interrupted"
    return visible(f"{head}\nprompt: {_excerpt(race.prompt)}\n\n{body}")


def _chat_cost(race: StoredRace) -> CostSum | None:
    """A stored follow-up's conversation up to it, priced from the stored tokens; None when
    its earlier turns cannot be read."""
    from providers.arena.conversation import Conversation
    from providers.store import StoreError
    from providers.store.races import conversation

    if race.id is None:
        return None
    try:
        return Conversation.from_stored(conversation(race.id)).cost
    except (StoreError, LookupError):
        return None


def _show(race_id: int, *, as_json: bool, markdown: bool) -> int:
    from providers.store import load
    from providers.store.export import to_json, to_markdown

    race = load(race_id)
    if as_json and race.kind == "race" and race.turn_number > 1:
        import json

        from providers.environment import redact

        doc = race.document()
        chat = _chat_cost(race)
        doc["conversation_cost_usd"] = None if chat is None else chat.to_json()
        print(redact(json.dumps(doc, ensure_ascii=False)))
    elif as_json:
        print(to_json(race))
    elif markdown:
        print(to_markdown(race), end="")
    else:
        print(text_report(race))
    return EXIT_OK


DELETED, INSERTED = "red strike", "bold green"


def styled_diff(pieces: Sequence[Piece]) -> Text:
    """Diff pieces as text with styles (never markup: answers are anyone's text)."""
    from rich.text import Text

    styles = {"equal": "", "delete": DELETED, "insert": INSERTED}
    out = Text()
    for piece in pieces:
        out.append(visible(piece.text), style=styles[piece.kind])
    return out


def answer_of(race: StoredRace, which: str) -> tuple[str, str] | None:
    """(label, text) of the answer `which` names: a model spec of the race or a 1-based
    position; the newest run's answer (a `both` race: its async side)."""
    runs = [run for run in race.runs if run.results]
    if not runs:
        return None
    results = runs[-1].results
    if which.isdigit():
        n = int(which)
        picked = results[n - 1] if 1 <= n <= len(results) else None
    else:
        picked = next((r for r in results if which in (r.source, r.label)), None)
    if picked is None:
        return None
    return f"{results.index(picked) + 1}. {picked.label}", picked.text


def _show_diff(race_id: int, a: str, b: str) -> int:
    from providers.store import load
    from providers.textdiff import Piece, wdiff, word_diff

    race = load(race_id)
    sides = [answer_of(race, which) for which in (a, b)]
    for which, side in zip((a, b), sides, strict=True):
        if side is None:
            models = ", ".join(race.models) or "none"
            return _fail(
                f"race {race_id} has no answer {which!r}: name one of its models "
                f"({models}) or a position 1–{len(race.models)}",
                EXIT_USAGE,
            )
    (label_a, text_a), (label_b, text_b) = (s for s in sides if s is not None)
    diff = word_diff(text_a, text_b)
    if not sys.stdout.isatty():
        head = f"race {race_id}: [-{label_a}-] {{+{label_b}+}} · {diff.summary()}"
        print(visible(f"{head}\n\n{wdiff(diff)}"))
        return EXIT_OK
    from rich.console import Console

    parts = [
        Piece("equal", f"race {race_id}: "),
        Piece("delete", label_a),
        Piece("equal", " → "),
        Piece("insert", label_b),
        Piece("equal", f" · {diff.summary()}\n"),
    ]
    console = Console(highlight=False)
    console.print(styled_diff(parts), soft_wrap=True)
    console.print(styled_diff(diff.unified), soft_wrap=True)
    return EXIT_OK


def _bench_history(search: str | None, limit: int, as_json: bool) -> int:
    if limit < 0:
        return _fail(f"--limit must be 0 (all) or more, not {limit}", EXIT_USAGE)
    import json

    from providers.environment import redact
    from providers.store import default_path
    from providers.store.benches import bench_history

    rows = bench_history(search, limit or None)
    if as_json:
        docs = [
            {
                "id": f"b{b.id}",
                "created": b.created,
                "bench": b.kind,
                "mode": b.mode,
                "models": b.models,
                "prompt": b.prompt,
                "samples": b.n_samples,
                "interrupted": b.interrupted,
            }
            for b in rows
        ]
        print(redact(json.dumps(docs, ensure_ascii=False)))
        return EXIT_OK
    if not rows:
        where = "matching that search " if search else ""
        print(f"no benches {where}stored in {default_path()}")
        return EXIT_OK
    table = [("id", "when", "bench", "models", "prompt", "samples")]
    for b in rows:
        kind = b.mode if b.kind == "repeat" else f"sweep to {b.concurrency}"
        models = ", ".join(b.models)
        table.append(
            (
                f"b{b.id}",
                _when(b.created or ""),
                kind + (" (interrupted)" if b.interrupted else ""),
                models if len(models) <= 40 else models[:39] + "…",
                _excerpt(b.prompt),
                str(b.n_samples),
            )
        )
    _print_table(table)
    return EXIT_OK


def _show_bench(text: str, *, as_json: bool, markdown: bool) -> int:
    from providers.store.benches import load_bench, parse_id

    bench = load_bench(parse_id(text) or 0)
    if markdown:
        from providers.store.bench_export import to_markdown

        print(to_markdown(bench), end="")
        return EXIT_OK
    if as_json:
        import json

        print(json.dumps(bench.to_json(), ensure_ascii=False))
        return EXIT_OK
    head = f"bench b{bench.id} · {_when(bench.created or '')}"
    if bench.interrupted:
        head += " · interrupted"
    print(visible(f"{head}\nprompt: {_excerpt(bench.prompt)}\n"))
    report = visible(bench.report)
    print(report, end="" if report.endswith("\n") else "\n")
    return EXIT_OK


def _export_bench(text: str, fmt: str, output: str | None) -> int:
    from providers.store.bench_export import export_bench
    from providers.store.benches import load_bench, parse_id

    bench = load_bench(parse_id(text) or 0)
    if fmt not in ("json", "md", "html"):
        return _fail(f"a bench exports as json, md or html, not {fmt}", EXIT_USAGE)
    return _write(export_bench(bench, fmt), output)


def _export(race_id: int, fmt: str, output: str | None) -> int:
    from providers.store import load
    from providers.store.export import export

    race = load(race_id)
    if fmt == "svg":
        from tui.timeline_svg import timeline_svg

        text = timeline_svg(race.runs, title=f"modelrace race {race_id}")
    else:
        text = export(race, fmt)
    return _write(text, output)


def _write(text: str, output: str | None) -> int:
    if output is None:
        print(text, end="" if text.endswith("\n") else "\n")
        return EXIT_OK
    try:
        ending = "" if text.endswith("\n") else "\n"
        Path(output).expanduser().write_text(text + ending, encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return _fail(f"cannot write {output}: {reason}", EXIT_USAGE)
    return EXIT_OK


def _replay(race_id: int) -> int:
    app = replay_app(race_id)
    app.run()
    return app.return_code or 0


def replay_app(race_id: int, config: Config | None = None) -> ModelRaceApp:
    """The dashboard with the race's models as replays and its prompt ready to send."""
    from providers.config import load_config
    from providers.store import load
    from tui.app import ModelRaceApp
    from tui.cli import UsageError, expand_replays

    race = load(race_id)
    if race.kind != "race":
        raise UsageError(f"stored race {race_id} is a pipeline pass; only races replay")
    specs = expand_replays([f"replay:{race_id}"])
    config = load_config() if config is None else config
    return ModelRaceApp(specs, config, mode=race.mode, prompt=race.prompt)


def _delete(ids: list[int | str]) -> int:
    """Races and benches (bN) together; an unknown id of either kind deletes nothing."""
    from providers.store import delete
    from providers.store.benches import delete_benches, parse_id

    races = [i for i in ids if isinstance(i, int)]
    benches = [parse_id(i) or 0 for i in ids if isinstance(i, str)]
    if benches:
        delete_benches(benches, check_only=True)
    if races:
        delete(races)
    if benches:
        delete_benches(benches)
    print("deleted " + ", ".join(str(i) for i in ids))
    return EXIT_OK
