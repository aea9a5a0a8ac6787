"""Percentiles and a bootstrap interval, from the standard library.

Percentiles use `statistics.quantiles(..., method="inclusive")`: linear interpolation between
the closest ranks with the sample's minimum and maximum as the 0th and 100th percentiles
(numpy's default "linear", which genai-perf uses), so a p99 never lies outside what was seen.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence
from typing import Final

QUANTILE_METHOD: Final = "inclusive"
BOOTSTRAP_SEED = 20260
BOOTSTRAP_RESAMPLES = 2000


def percentile(values: Sequence[float], p: int) -> float | None:
    """The p-th percentile (1..99) of `values`; None when there are none."""
    if not values:
        return None
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=100, method=QUANTILE_METHOD)[p - 1]


def percentiles(values: Sequence[float], ps: Sequence[int]) -> dict[str, float | None]:
    """{"p50": …, "p99": …} for the given percentiles, cut once."""
    if len(values) < 2:
        only = float(values[0]) if values else None
        return {f"p{p}": only for p in ps}
    cuts = statistics.quantiles(values, n=100, method=QUANTILE_METHOD)
    return {f"p{p}": cuts[p - 1] for p in ps}


def bootstrap_median(
    values: Sequence[float],
    confidence: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float, float] | None:
    """The median and a percentile-bootstrap interval for it: (median, low, high).

    A fixed seed makes the interval reproducible from the samples in the JSON. With one
    sample there is no spread to resample, so the interval is that sample.
    """
    if not values:
        return None
    median = statistics.median(values)
    if len(values) == 1:
        return median, median, median
    rng = random.Random(seed)
    medians = sorted(
        statistics.median(rng.choices(values, k=len(values))) for _ in range(resamples)
    )
    tail = (1 - confidence) / 2
    low = medians[int(tail * (resamples - 1))]
    high = medians[round((1 - tail) * (resamples - 1))]
    return median, low, high
