"""What a request cost, in US dollars, from the token counts the API reported.

Prices come from `genai-prices`, whose table ships inside the package: nothing is fetched at
run time (its `UpdatePrices` downloader is never started), so a price works offline and is
the same on every run of the same installed version.

A price is a fact or nothing. `None` means unknown and is shown as "—", never as 0:
- a provider the table does not price (a named OpenAI-compatible endpoint: the same model
  name costs differently on each host, and a self-hosted one costs what its hardware does);
- a model the table does not know;
- a request whose API did not report both its input and its output token count (the output
  count we estimate from the text for tok/s is an estimate, and a price from it a guess).
Models on your own machine or simulated (`sim`, `local`, `replay`, `ollama`) cost exactly 0,
except Ollama's cloud models (`…-cloud`), which run on ollama.com: unknown.
A request never sent (skipped, cancelled before it started) costs 0 whatever the provider.

The API's input count is priced at the plain input rate: we do not see cached-token counts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from providers.record import Result

# Our provider name -> genai-prices' provider id.
PRICED = {"openai": "openai", "anthropic": "anthropic", "gemini": "google"}
# Runs on this machine (or is played back by the simulator): nothing is billed.
FREE = frozenset({"sim", "local", "replay", "ollama"})
UNKNOWN_SHOWN = "—"


def price_usd(
    spec: str,
    input_tokens: int | None,
    output_tokens: int | None,
    when: datetime | None = None,
) -> float | None:
    """The price of one request to `spec` (`provider:model`); None when unknown."""
    provider, _, model = spec.partition(":")
    provider = provider.strip().lower()
    model = model.strip()
    if provider in FREE:
        return None if provider == "ollama" and _ollama_cloud(model) else 0.0
    if provider not in PRICED or not model:
        return None
    if input_tokens is None or output_tokens is None:
        return None
    from genai_prices import Usage, calc_price

    usage = Usage(input_tokens=input_tokens, output_tokens=output_tokens)
    try:
        price = calc_price(usage, model, provider_id=PRICED[provider], genai_request_timestamp=when)
    except LookupError:
        return None  # a model the table does not know
    return float(price.total_price)


def result_cost(result: Result) -> float | None:
    """What one result's request cost; None when unknown (see the module's rules)."""
    if result.attempts == 0:
        return 0.0  # never sent
    return price_usd(result.source, result.input_tokens, result.reported_output_tokens)


@dataclass(frozen=True, slots=True)
class CostSum:
    """Several requests' cost: the known part, and how many had no known price."""

    known_usd: float
    unknown: int
    count: int

    @property
    def total_usd(self) -> float | None:
        """The whole cost, only when every request's price is known (never a partial sum)."""
        return None if self.unknown else self.known_usd

    def to_json(self) -> float | None:
        return None if self.total_usd is None else round(self.total_usd, 10)

    def text(self) -> str:
        """`$0.0012`; `≥ $0.0012 (1 of 3 unpriced)` when some are unknown; `—` when none is
        known. A bound is labelled as one, so no partial sum passes for the cost."""
        if not self.unknown:
            return format_usd(self.known_usd)
        if self.unknown == self.count:
            return UNKNOWN_SHOWN
        return f"≥ {format_usd(self.known_usd)} ({self.unknown} of {self.count} unpriced)"


def cost_sum(results: Iterable[Result]) -> CostSum:
    """The cost of several requests: a run's results, or every turn of a conversation."""
    known: list[float] = []
    unknown = count = 0
    for result in results:
        count += 1
        cost = result.cost_usd
        if cost is None:
            unknown += 1
        else:
            known.append(cost)
    return CostSum(math.fsum(known), unknown, count)


NO_COST = CostSum(0.0, 0, 0)


def add_costs(sums: Iterable[CostSum]) -> CostSum:
    """Several sums as one (a conversation's turns): still a bound while any part is one."""
    parts = list(sums)
    return CostSum(
        math.fsum(s.known_usd for s in parts),
        sum(s.unknown for s in parts),
        sum(s.count for s in parts),
    )


def format_usd(value: float | None) -> str:
    """`$1.23`, `$0.0153`, `$0.000123`: three significant digits below a dollar, cents above;
    `$0` for nothing billed; `—` for unknown."""
    if value is None:
        return UNKNOWN_SHOWN
    if value == 0:
        return "$0"
    if value >= 1:
        return f"${value:,.2f}"
    decimals = min(10, max(2, 2 - math.floor(math.log10(value))))
    digits = f"{value:.{decimals}f}"
    whole, _, fraction = digits.partition(".")
    fraction = fraction[:2] + fraction[2:].rstrip("0")
    return f"${whole}.{fraction}"


def warm() -> None:
    """Load the price table (about 0.1 s): call it from a worker thread before the first
    price is needed on an event loop."""
    price_usd("openai:gpt-4o-mini", 1, 1)


def _ollama_cloud(model: str) -> bool:
    return model.endswith("-cloud") or model.endswith(":cloud")
