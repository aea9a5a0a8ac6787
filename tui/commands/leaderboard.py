"""`modelrace leaderboard`: the Bradley–Terry board fitted from the stored votes.

The fit lives in `providers.arena.leaderboard`; this module parses, prints the table (the
dashboard's leaderboard screen shows the same cells) and turns a store failure into one line,
exit 1, as `history` does.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from tui.commands.run import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from tui.text import visible

if TYPE_CHECKING:
    from providers.arena.leaderboard import Leaderboard

COLUMNS = ("rank", "model", "rating", "95% interval", "W/L/T", "votes", "blind", "TTFT", "tok/s")
# Columns printed flush right (numbers).
RIGHT = {0, 2, 3, 4, 5, 6, 7, 8}


def add_command(commands: Any) -> None:
    """Register `leaderboard` on the main parser's subcommands."""
    from providers.arena.leaderboard import ROUNDS, SEED

    board = commands.add_parser(
        "leaderboard",
        help="ratings of the models from the stored votes",
        description="Bradley–Terry ratings fitted from every stored vote (blind and not; a tie "
        "or an all-bad vote is half a win each way), on the Elo scale: mean 1000, 400 points "
        "= 10:1 odds. Beside each model: a 95%% bootstrap interval, its wins, losses and "
        "ties, and its median TTFT and tokens/s over the stored races.",
        epilog="Exit status: 0 (also with no votes), 1 when the run store cannot be read, "
        "2 for bad usage.",
    )
    board.add_argument("--json", action="store_true", help="one JSON document on stdout")
    board.add_argument("--blind-only", action="store_true", help="only votes cast blind")
    board.add_argument(
        "--rounds",
        type=int,
        default=ROUNDS,
        metavar="N",
        help=f"bootstrap resamples for the interval (default {ROUNDS}; 0: no interval)",
    )
    board.add_argument(
        "--seed", type=int, default=SEED, metavar="N", help="bootstrap seed (default fixed)"
    )


def run_leaderboard(args: argparse.Namespace) -> int:
    from providers.arena.leaderboard import leaderboard
    from providers.store import StoreError, default_path

    if args.rounds < 0:
        print(f"modelrace: --rounds must be 0 or more, not {args.rounds}", file=sys.stderr)
        return EXIT_USAGE
    try:
        board = leaderboard(blind_only=args.blind_only, rounds=args.rounds, seed=args.seed)
    except StoreError as exc:
        print(f"modelrace: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        import json

        print(json.dumps(board.to_json(), ensure_ascii=False))
        return EXIT_OK
    if not board.standings:
        print(empty_line(args.blind_only, str(default_path())))
        return EXIT_OK
    for line in table_lines(board):
        print(visible(line))
    print(footnote(board))
    return EXIT_OK


def empty_line(blind_only: bool, where: str) -> str:
    return f"no {'blind ' if blind_only else ''}votes stored yet in {where}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def rows(board: Leaderboard) -> list[tuple[str, ...]]:
    """The cells of each model's line, best first, in `COLUMNS` order."""
    out: list[tuple[str, ...]] = []
    for rank, s in enumerate(board.standings, 1):
        interval = "-" if s.low is None or s.high is None else f"{s.low:.0f}–{s.high:.0f}"
        out.append(
            (
                str(rank),
                s.model,
                f"{s.rating:.0f}",
                interval,
                f"{s.wins}/{s.losses}/{s.ties}",
                str(s.votes),
                str(s.blind_votes),
                _seconds(s.speed.median_ttft_s),
                _rate(s.speed.median_tokens_per_s),
            )
        )
    return out


def table_lines(board: Leaderboard) -> list[str]:
    table = [COLUMNS, *rows(board)]
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    return [
        "  ".join(
            cell.rjust(w) if i in RIGHT else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in table
    ]


def footnote(board: Leaderboard) -> str:
    """What the numbers mean, in two lines under the table."""
    votes = f"{board.votes} {'blind ' if board.blind_only else ''}votes"
    if not board.blind_only:
        votes += f" ({board.blind_votes} blind)"
    interval = (
        f"95% bootstrap interval over {board.rounds} resamples"
        if board.rounds
        else "no interval (--rounds 0)"
    )
    return (
        f"{votes} · Bradley–Terry: a tie or all-bad vote is half a win each way\n"
        f"mean rating 1000, +400 = 10:1 odds · {interval} · TTFT, tok/s: medians of stored races"
    )
