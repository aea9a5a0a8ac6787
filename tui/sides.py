"""The sides of one race: a `both` race has a sync run and an async run of the same models,
and its panels can show either one."""

from __future__ import annotations

from collections.abc import Sequence

from providers.record import Run


def started(runs: Sequence[Run]) -> list[Run]:
    """The runs that have begun (an async side still preparing has nothing to show)."""
    return [run for run in runs if run.t0 is not None]


def next_side(runs: Sequence[Run], shown: Run | None) -> Run | None:
    """The side after `shown`, or None when the race has only one to show."""
    sides = started(runs)
    index = next((i for i, run in enumerate(sides) if run is shown), None)
    if index is None or len(sides) < 2:
        return None
    return sides[(index + 1) % len(sides)]
