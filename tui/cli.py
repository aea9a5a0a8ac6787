"""The `modelrace` command line: the dashboard, `run`, `sim`, `models`, `pipeline`, `trust`.

Bad usage is one line on stderr and exit 2, never a traceback. Heavy imports (Textual, the
SDKs) happen only inside the command that needs them.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import errno
import os
import sys
from argparse import SUPPRESS
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from providers.config import LOCAL_CONFIG, Config, ConfigError, load_config
from providers.echo import error_line, quote
from providers.environment import EnvFileError, load_env, loopback_no_proxy
from providers.race import ModeError, parse_mode
from providers.request import FollowUp, Request, SettingsError
from providers.spec import SpecError, parse_spec
from tui.commands.bench import add_bench_arguments
from tui.commands.leaderboard import add_command as add_leaderboard_command
from tui.commands.options import add_model_option
from tui.commands.run import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from tui.commands.serve import add_command as add_serve_command
from tui.commands.store import COMMANDS as STORE_COMMANDS
from tui.commands.store import add_commands as add_store_commands
from tui.commands.store import add_no_save


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    commands: argparse._SubParsersAction[argparse.ArgumentParser] | None = None

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)

    def add_subparsers(self, **kwargs: Any) -> Any:
        self.commands = super().add_subparsers(**kwargs)
        return self.commands

    # typeshed overloads parse_known_args on the namespace's type; one plain signature covers
    # every call argparse makes, so the override is narrower on paper only.
    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self.commands is not None and args is not None:
            check_command(list(args), list(self.commands.choices))
        return super().parse_known_args(args, namespace)


# Options before the command that take a value: their value is not a command name.
_VALUE_OPTIONS = ("-m", "--model")


def check_command(argv: list[str], names: list[str]) -> None:
    """An unknown command names the closest real one: `modelrace rn` → did you mean 'run'?"""
    tokens = iter(argv)
    for token in tokens:
        if token == "--":
            token = next(tokens, "")
        elif token in _VALUE_OPTIONS:
            next(tokens, None)
            continue
        elif token.startswith("-"):
            continue
        if not token or token in names:
            return
        close = difflib.get_close_matches(token, names, n=1)
        hint = f"did you mean '{close[0]}'?" if close else "commands: " + ", ".join(names)
        raise UsageError(f"unknown command '{token}'; {hint}")


class _Version(argparse.Action):
    """`--version`, read from the installed package's metadata only when asked."""

    def __init__(self, option_strings: list[str], dest: str = SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("modelrace")
        except PackageNotFoundError:
            number = "unknown (not installed)"
        print(f"modelrace {number}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="modelrace",
        description="Race language models side by side: streaming panels and a live "
        "sync-vs-async timeline. With no command, opens the dashboard.",
    )
    parser.add_argument(
        "-m", "--model", action="append", dest="models", metavar="SPEC", help=_SPEC_HELP
    )
    parser.add_argument("--version", action=_Version, help="print the version and exit")
    parser.add_argument(
        "--arena",
        action="store_true",
        help="open the dashboard as a blind arena: panels A, B, C… in a shuffled order, "
        "names and speed hidden until you vote (1-9, = a tie, 0 all bad)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = commands.add_parser(
        "run",
        help="race headless, then print a comparison",
        description="Race the models headless, then print every answer and a comparison.",
        epilog=_EXIT_HELP,
    )
    run.add_argument(
        "prompt",
        nargs="?",
        help="the prompt sent to every model; '-' reads it from stdin, as does no prompt "
        "when stdin is not a terminal",
    )
    add_model_option(run, _SPEC_HELP)
    run.add_argument(
        "--mode",
        default="both",
        help="sync, async, both (sync first, then async; the default), threads, blocking "
        "(sync clients called from async tasks: the mistake, shown), all (sync, blocking, "
        "threads, async in turn) or limit=N",
    )
    run.add_argument("--json", action="store_true", help="one JSON document on stdout")
    run.add_argument(
        "--continue",
        dest="continue_id",
        type=_race_id,
        metavar="ID",
        help="a follow-up turn of stored race ID: each model is sent its own earlier answers; "
        "the models are that race's unless -m names others (a new one starts with no history); "
        "its system prompt, temperature and max tokens apply unless given",
    )
    _add_settings(run)
    add_no_save(run)

    sim = commands.add_parser("sim", help="serve the simulator on its own")
    sim.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    sim.add_argument(
        "--port", type=int, default=8787, help="port to listen on, 0 for any free one (8787)"
    )

    pipeline = commands.add_parser(
        "pipeline", help="run a pipeline file of dependent steps", epilog=_EXIT_HELP
    )
    pipeline.add_argument("file", help="a pipeline TOML file, e.g. examples/rag.toml")
    pipeline.add_argument("--input", default="", help="the text steps see as {input}")
    pipeline.add_argument(
        "--mode", default="both", help="sync|async|both|blocking|all (default both)"
    )
    pipeline.add_argument("--json", action="store_true", help="one JSON document on stdout")
    add_no_save(pipeline)

    add_store_commands(commands)
    add_leaderboard_command(commands)

    models = commands.add_parser(
        "models",
        help="configured models and whether each is usable",
        description="List the models modelrace would use and whether each is usable now "
        "(key set, server reachable, model file present).",
        epilog="Exit status: 0 when every listed model is ready, 1 when any is unusable, "
        "2 for bad usage.",
    )
    add_model_option(models, _SPEC_HELP + " (default: the configured set)")

    trust = commands.add_parser("trust", help=f"trust a project-local {LOCAL_CONFIG}, as it is now")
    trust.add_argument("file", nargs="?", default=LOCAL_CONFIG, help=f"default ./{LOCAL_CONFIG}")
    bench = commands.add_parser(
        "bench",
        help="many races, percentiles, or a concurrency sweep",
        description="Race the models many times (--repeat) and report percentiles, or sweep "
        "concurrency (--concurrency) and report throughput and latency per level.",
        epilog="Exit status: 0 when every request answered, 1 when some failed, 2 for bad "
        "usage, 130 when interrupted (what was measured is reported).",
    )
    add_bench_arguments(bench, _SPEC_HELP)
    _add_settings(bench)
    add_no_save(bench)
    add_serve_command(commands, _SPEC_HELP)
    return parser


_EXIT_HELP = (
    "exit status: 0 every model answered, 1 some failed or could not start, 2 bad usage or "
    "none can start, 130 Ctrl-C, 143 SIGTERM "
    "(128 + the signal); stopped by either, what had arrived is printed and the rest is "
    "marked cancelled"
)

_SPEC_HELP = (
    "PROVIDER:MODEL, repeatable: openai:gpt-5-mini, gemini:gemini-2.5-flash, ollama:qwen3:8b, "
    "anthropic:claude-haiku-4-5, sim:fast, local:smollm2, or ENDPOINT:MODEL from modelrace.toml"
)


def _add_settings(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--system", help="system prompt")
    parser.add_argument("--temperature", type=float, metavar="T", help="0 to 2")
    parser.add_argument("--max-tokens", type=int, metavar="N", help="cap on output tokens")
    parser.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="per request, start to last byte"
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=0,
        metavar="N",
        help="try a 429, 5xx or connection error again up to N times (backoff, Retry-After); "
        "default 0",
    )


def _race_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a race id (a number)") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a race id (ids start at 1)")
    return value


def continuation(args: argparse.Namespace, config: Config) -> tuple[list[str], Request, FollowUp]:
    """`run --continue ID`: the models, the request (settings inherited from the stored race
    unless given) and each model's own earlier turns. Unknown or pipeline ID: UsageError."""
    from providers.arena.conversation import Conversation
    from providers.store import UnknownRace
    from providers.store.races import conversation

    race_id: int = args.continue_id
    try:
        chain = conversation(race_id)
    except UnknownRace:
        raise UsageError(f"no stored race has id {race_id} (see modelrace history)") from None
    last = chain[-1]
    if last.kind != "race":
        raise UsageError(f"{race_id} is a pipeline pass; only a race can be continued")
    specs = resolve_specs(args.models or last.models, config)
    request = request_from(args)
    inherited: dict[str, Any] = {}
    if args.system is None and last.system:
        inherited["system"] = last.system
    for name in ("temperature", "max_tokens"):
        value = last.settings.get(name)
        if getattr(args, name) is None and isinstance(value, int | float):
            inherited[name] = value
    if inherited:
        request = dataclasses.replace(request, **inherited)
    talk = Conversation.from_stored(chain)
    for spec in talk.newcomers(specs):
        print(
            f"modelrace: {spec} joins at turn {talk.next_turn}, with no earlier turns",
            file=sys.stderr,
        )
    return specs, request, talk.follow_up(specs)


def request_from(args: argparse.Namespace) -> Request:
    """Validate the shared settings; the same rules as the dashboard's settings screen."""
    prompt = utf8_text(read_prompt(args.prompt), "the prompt")
    if not prompt.strip():
        raise UsageError("the prompt is empty")
    system = utf8_text(args.system, "--system") if args.system else None
    request = make_request(prompt, system, args.temperature, args.max_tokens, args.timeout)
    if args.retries:
        try:
            return dataclasses.replace(request, retries=args.retries)
        except SettingsError as exc:
            raise UsageError(f"--{exc}") from None
    return request


def utf8_text(value: str, what: str) -> str:
    """Refuse text that was not valid UTF-8 on the command line (Python keeps such bytes as
    lone surrogates): no API accepts it, and JSON readers reject it in our output."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"{what} is not valid UTF-8: {quote(value)}") from None
    return value


def read_prompt(given: str | None) -> str:
    """The prompt as given, or from stdin for `-` or when piped (`git diff | modelrace run`)."""
    if given is not None and given != "-":
        return given
    if sys.stdin is None or (given is None and sys.stdin.isatty()):
        raise UsageError("no prompt: give one, or pipe it in ('-' reads it from stdin)")
    stream = getattr(sys.stdin, "buffer", None)
    try:
        text = stream.read().decode("utf-8") if stream is not None else sys.stdin.read()
    except UnicodeDecodeError:
        raise UsageError("the prompt on stdin is not UTF-8 text") from None
    return text.rstrip("\r\n")


def make_request(
    prompt: str,
    system: str | None,
    temperature: float | None,
    max_tokens: int | None,
    timeout: float | None,
) -> Request:
    try:
        return Request(prompt, system or None, temperature, max_tokens, timeout)
    except SettingsError as exc:
        raise UsageError(str(exc)) from None


def resolve_specs(given: Sequence[str] | None, config: Config, *, strict: bool = True) -> list[str]:
    """The user's specs, checked now so a typo fails before anything starts.

    Not strict (for `models`): only the spec syntax, so a bad model is listed, not refused.
    """
    from providers.defaults import default_specs
    from providers.registry import make_adapter

    specs = expand_replays(list(given) if given else default_specs(config))
    for spec in specs:
        parsed = parse_spec(spec, config)
        problem = make_adapter(parsed, config).spec_problem() if strict else None
        if problem:
            raise UsageError(f"{quote(spec)}: {problem}")
    return specs


def expand_replays(specs: list[str]) -> list[str]:
    """`replay:ID` becomes one `replay:ID:SPEC` per model of stored race ID."""
    if not any(s.strip().lower().startswith("replay:") for s in specs):
        return specs
    from providers.store import StoreError
    from providers.store.replay import ReplayError, expand

    try:
        return expand(specs)
    except (ReplayError, StoreError) as exc:
        raise UsageError(str(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    status = _run(argv)
    try:
        # Flushed here, not at exit: a full disk is then one line, not a traceback.
        sys.stdout.flush()
    except OSError as exc:
        return _unwritable(exc)
    return status


def _run(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        if args.arena and args.command:
            raise UsageError(f"--arena opens the dashboard; it does not go with '{args.command}'")
        if args.command == "sim":
            if not 0 <= args.port <= 65535:
                raise UsageError(f"port must be between 0 and 65535, not {args.port}")
            from providers.sim.__main__ import main as sim_main

            return sim_main(["--host", args.host, "--port", str(args.port)])
        if args.command == "trust":
            return trust_command(args.file)
        load_env()
        loopback_no_proxy()
        if args.command in STORE_COMMANDS:
            from tui.commands.store import run_command

            return run_command(args)
        if args.command == "leaderboard":
            from tui.commands.leaderboard import run_leaderboard

            return run_leaderboard(args)
        if args.command in HEADLESS_RACES:
            from providers import heap

            heap.manage()  # the dashboard's GC policy (tui/app.py) for races without it
        config = load_config()
        if config.notice:
            print(f"modelrace: {error_line(config.notice)}", file=sys.stderr)
        if args.command == "pipeline":
            from tui.commands.pipeline import run_pipeline_command

            input_text = utf8_text(args.input, "--input")
            return run_pipeline_command(
                args.file, input_text, args.mode, config, as_json=args.json, save=not args.no_save
            )
        if args.command == "run" and args.continue_id is not None:
            from providers.store import StoreError
            from tui.commands.run import run_headless

            mode = parse_mode(args.mode)
            try:
                specs, request, follow_up = continuation(args, config)
            except StoreError as exc:
                print(f"modelrace: {exc}", file=sys.stderr)
                return EXIT_FAILED
            return run_headless(
                specs,
                request,
                mode,
                config,
                as_json=args.json,
                save=not args.no_save,
                follow_up=follow_up,
            )
        specs = resolve_specs(args.models, config, strict=args.command != "models")
        if args.command == "run":
            from tui.commands.run import run_headless

            request, mode = request_from(args), parse_mode(args.mode)
            return run_headless(
                specs, request, mode, config, as_json=args.json, save=not args.no_save
            )
        if args.command == "bench":
            from tui.commands.bench import run_bench

            return run_bench(specs, request_from(args), args, config)
        if args.command == "serve":
            from tui.commands.serve import run_serve

            return run_serve(specs, args)
        if args.command == "models":
            from tui.commands.run import list_models

            if args.models:
                source = "given with -m"
            elif config.models:
                source = f"from {config.path}"
            else:
                source = "built-in default set"
            return list_models(specs, config, source)
        from tui.app import run_dashboard

        return run_dashboard(specs, config, given=bool(args.models), arena=args.arena)
    except (UsageError, SpecError, ModeError, ConfigError, EnvFileError) as exc:
        print(f"modelrace: {error_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader went away (`modelrace models | head`): stop quietly, as Unix tools do.
        _drop_stdout()
        return EXIT_FAILED
    except OSError as exc:
        if exc.filename is not None or exc.errno not in _WRITE_ERRORS:
            raise
        return _unwritable(exc)


# Commands that race without the dashboard.
HEADLESS_RACES = ("run", "pipeline", "bench")
# What a write to stdout fails with when the disk or the device cannot take it.
_WRITE_ERRORS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EIO}


def _unwritable(exc: OSError) -> int:
    """stdout cannot be written (`> /dev/full`): say so once, exit 1; nothing else to save."""
    _drop_stdout()
    reason = exc.strerror or exc.__class__.__name__
    print(f"modelrace: cannot write the output: {reason}", file=sys.stderr)
    return EXIT_FAILED


def _drop_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def trust_command(file: str) -> int:
    """`modelrace trust [FILE]`: record the file's exact content as trusted (providers.trust)."""
    from providers.textfile import TextFileError
    from providers.trust import trust_file

    path = Path(file).expanduser()
    try:
        digest = trust_file(path)
    except FileNotFoundError:
        raise UsageError(f"{quote(file)}: no such file") from None
    except TextFileError as exc:
        raise UsageError(f"{quote(file)}: cannot read it ({exc})") from None
    print(f"trusted {path.resolve()} (sha256 {digest[:16]}); any edit makes it untrusted again")
    return EXIT_OK
