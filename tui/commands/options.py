"""Options shared by several commands, defined once."""

from __future__ import annotations

import argparse
from argparse import SUPPRESS


def add_model_option(parser: argparse.ArgumentParser, spec_help: str) -> None:
    """`-m SPEC`, repeatable. SUPPRESS: `modelrace -m X run ...` keeps the X given before the
    command instead of resetting it."""
    parser.add_argument(
        "-m",
        "--model",
        action="append",
        dest="models",
        metavar="SPEC",
        default=SUPPRESS,
        help=spec_help,
    )
