"""Replaying stored races: `replay:ID` (every model of race ID) and `replay:ID:SPEC` (one).

The client reads the store and hands the simulator a recording (providers/sim/replay.py):
the stored chunks at their stored offsets, and how the answer ended. Which side of the race
is played follows the client that plays it: a sync client replays the recorded sync side, an
async client the recorded concurrent side, so `--mode both` replays both halves of a `both`
race; a race recorded with one side only plays that side for both.

How a failure is replayed: an HTTP status, a dropped connection and a malformed chunk are
acted out on the wire at the recorded moment, and the SDK meets them as it did the first
time. A timeout, a cancel, or a failure the wire cannot repeat (a refused connection) is a
stall that the client's own deadline ends at the recorded moment, reported with the
recorded kind and message.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from providers.failures import FailureKind
from providers.record import Result, Run
from providers.store.races import StoredRace, UnknownRace, load

PROVIDER = "replay"
# Played on the wire; every other failure kind is a stall that the client's deadline ends.
ON_THE_WIRE = {
    FailureKind.DROPPED: "drop",
    FailureKind.MALFORMED: "malformed",
}
HTTP_KINDS = (
    FailureKind.HTTP,
    FailureKind.RATE_LIMITED,
    FailureKind.AUTH,
    FailureKind.NOT_FOUND,
)


class ReplayError(LookupError):
    """A replay spec naming no stored race or model; the message is one line."""


@dataclass(frozen=True)
class Target:
    """What `replay:ID:SPEC` points at: the stored race and the model's position in it."""

    race: StoredRace
    spec: str
    position: int

    def result(self, concurrent: bool) -> tuple[Run, Result]:
        """The recorded run and result to play for a sync (False) or async (True) client."""
        runs = [run for run in self.race.runs if self.position < len(run.results)]
        chosen = next((run for run in runs if run.concurrent == concurrent), runs[0])
        return chosen, chosen.results[self.position]

    @property
    def timeout(self) -> float | None:
        value = self.race.settings.get("timeout")
        return float(value) if isinstance(value, int | float) else None


def parse_id(text: str) -> int:
    try:
        race_id = int(text)
    except ValueError:
        raise ReplayError(f"replay needs a race id, e.g. replay:1, not {text!r}") from None
    if race_id < 1:
        raise ReplayError(f"replay needs a race id of 1 or more, not {race_id}")
    return race_id


def _load(race_id: int, path: Path | None) -> StoredRace:
    try:
        race = load(race_id, path)
    except UnknownRace:
        raise ReplayError(f"no stored race has id {race_id} (see modelrace history)") from None
    if race.kind != "race" or not race.runs:
        raise ReplayError(f"stored race {race_id} is a pipeline pass; only races replay")
    return race


def target(model: str, path: Path | None = None) -> Target:
    """`ID:SPEC` (the model part of a `replay:` spec) resolved in the store."""
    raw_id, sep, spec = model.partition(":")
    race = _load(parse_id(raw_id), path)
    if not sep:
        raise ReplayError(f"replay:{raw_id} stands for several models; name one as replay:ID:SPEC")
    models = race.models
    if spec not in models:
        raise ReplayError(
            f"stored race {race.id} has no model {spec!r}; it has {', '.join(models)}"
        )
    return Target(race, spec, models.index(spec))


def expand(specs: list[str], path: Path | None = None) -> list[str]:
    """Each `replay:ID` replaced by `replay:ID:SPEC` for every model of race ID, in order."""
    out: list[str] = []
    for spec in specs:
        provider, _, rest = spec.strip().partition(":")
        if provider.strip().lower() != PROVIDER or ":" in rest:
            out.append(spec)
            continue
        race = _load(parse_id(rest.strip()), path)
        out.extend(f"{PROVIDER}:{race.id}:{m}" for m in dict.fromkeys(race.models))
    return out


def recording(run: Run, result: Result) -> dict[str, object]:
    """The JSON the simulator plays (providers/sim/replay.py) for one stored result."""
    start = result.start if result.start is not None else run.t0 or 0.0
    end = result.end if result.end is not None else start

    def offset(t: float) -> float:
        return round(max(t - start, 0.0), 6)

    chunks = [[offset(t), text] for t, text in zip(result.chunk_times, result.chunks, strict=False)]
    usage = None
    if result.reported_output_tokens is not None:
        usage = [result.input_tokens, result.reported_output_tokens]
    doc: dict[str, object] = {"chunks": chunks, "end_s": offset(end), "usage": usage}
    kind = result.error_kind
    if kind is None or result.ok:
        return doc
    if kind in HTTP_KINDS and result.http_status is not None:
        doc.update(fault="http", status=result.http_status, message=_words(result))
    else:
        doc["fault"] = ON_THE_WIRE.get(kind, "stall")
    return doc


def played_by_deadline(result: Result) -> bool:
    """Whether the replay of `result` ends at a deadline the client sets (see the module doc)."""
    kind = result.error_kind
    if kind is None or result.ok:
        return False
    if kind in HTTP_KINDS and result.http_status is not None:
        return False
    return kind not in ON_THE_WIRE


def _words(result: Result) -> str | None:
    """The provider's own words, without the `HTTP 503: ` the adapter put in front."""
    if result.error is None:
        return None
    return result.error.removeprefix(f"HTTP {result.http_status}: ")
