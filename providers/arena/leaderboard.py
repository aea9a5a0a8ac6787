"""The leaderboard: Bradley–Terry strengths fitted from the stored votes.

A vote becomes weighted pairs (see `votes.py`): a win beats every other shown model once; a tie
or an all-bad vote is half a win each way for every pair of shown models. The fit is Newton's
method on the Bradley–Terry log-likelihood, in pure Python: `choix` would pull in numpy and
scipy (over 200 MB, a second or two to import) for a fit of a dozen models, and agrees with
this one to 1e-6 rating points (benchmarks/leaderboard.py).

Every model also gets `prior` virtual draws against a fixed reference player of strength 1
(Coulom's "virtual draws", as in Whole-History Rating): a Bayesian prior that keeps a model
that won every vote finite (ranked first, not infinitely far ahead), keeps one vote from
moving a model far, and ties a disconnected comparison graph together through the reference.
Its pull fades with votes (a 7-to-3 record: 139 points after 10 votes, 146 after 100, 147
without it).

Ratings are on the Elo scale: 400·log10 of the strength, shifted so the mean rating of the
models on the board is 1000; 400 points apart means 10:1 odds of winning. The 95% interval is
a percentile bootstrap: the votes are resampled with replacement, refitted and re-centred each
round (as LMArena does), with a fixed seed so the same votes always print the same interval.

Median TTFT and tokens/s come from every stored race's finished results of that model, read
with one SQL query (no chunks, no race objects), with the same definitions as `Result`.
"""

from __future__ import annotations

import math
import random
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from providers.arena.votes import Vote, load_votes
from providers.store.db import connect, default_path, failures_as_store_errors

SCALE = 400.0  # Elo points per factor of 10 in the odds
MEAN = 1000.0  # the mean rating of the models on the board
PRIOR_DRAWS = 1.0  # virtual draws of every model against the reference player
ROUNDS = 500  # bootstrap resamples
SEED = 20261  # fixed: the same votes print the same interval
CONFIDENCE = 0.95
_TOLERANCE = 1e-9  # largest Newton step in log-strength at convergence
_MAX_ITERATIONS = 100


def pairs_of(vote: Vote) -> list[tuple[str, str, float]]:
    """(winner, loser, weight) for every pair a vote decides."""
    if vote.verdict == "win":
        return [(str(vote.winner), m, 1.0) for m in vote.models if m != vote.winner]
    shown = list(dict.fromkeys(vote.models))
    out: list[tuple[str, str, float]] = []
    for i, a in enumerate(shown):
        for b in shown[i + 1 :]:
            out += [(a, b, 0.5), (b, a, 0.5)]
    return out


def fit(
    n: int,
    wins: dict[tuple[int, int], float],
    prior: float = PRIOR_DRAWS,
    start: Sequence[float] | None = None,
) -> list[float]:
    """Log-strengths θ of models 0..n−1 from `wins[(i, j)]` (i beat j that often, may be half).

    Maximises the Bradley–Terry log-likelihood Σ w_ij·log σ(θ_i − θ_j) plus `prior` virtual
    draws per model against a reference at θ = 0, by Newton's method with step halving (the
    objective is concave, so it converges in a handful of steps; Hunter's MM iteration needed
    hundreds here, too slow to refit 500 times). With no prior the result is the
    maximum-likelihood fit, which exists only when the comparison graph is connected and no
    model won or lost everything; θ of the last model is then held at 0.
    """
    if n == 0:
        return []
    won = [0.0] * n
    games: dict[tuple[int, int], float] = {}
    for (i, j), w in wins.items():
        won[i] += w
        key = (i, j) if i < j else (j, i)
        games[key] = games.get(key, 0.0) + w
    pairs = [(i, j, g) for (i, j), g in games.items() if g > 0]
    free = n if prior > 0 else n - 1  # without a prior one θ is pinned (the scale is free)
    theta = list(start) if start is not None else [0.0] * n

    def objective(t: Sequence[float]) -> float:
        value = sum(w * t[i] for i, w in enumerate(won))
        value -= sum(g * _log_add_exp(t[i], t[j]) for i, j, g in pairs)
        return value + prior * sum(x / 2 - _log_add_exp(x, 0.0) for x in t)

    current = objective(theta)
    for _ in range(_MAX_ITERATIONS):
        gradient = [w + prior * (0.5 - _sigmoid(x)) for w, x in zip(won, theta, strict=True)]
        hessian = [[0.0] * n for _ in range(n)]  # of the negated objective: positive definite
        for i, x in enumerate(theta):
            s = _sigmoid(x)
            hessian[i][i] = prior * s * (1 - s)
        for i, j, g in pairs:
            s = _sigmoid(theta[i] - theta[j])
            gradient[i] -= g * s
            gradient[j] -= g * (1 - s)
            c = g * s * (1 - s)
            hessian[i][i] += c
            hessian[j][j] += c
            hessian[i][j] -= c
            hessian[j][i] -= c
        step = _solve([row[:free] for row in hessian[:free]], gradient[:free]) + [0.0] * (n - free)
        size = 1.0
        while True:
            trial = [x + size * d for x, d in zip(theta, step, strict=True)]
            value = objective(trial)
            if value >= current or size < 1e-6:
                break
            size /= 2
        theta, current = trial, value
        if max(map(abs, step)) * size < _TOLERANCE:
            break
    return theta


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _log_add_exp(a: float, b: float) -> float:
    high = max(a, b)
    return high + math.log1p(math.exp(-abs(a - b)))


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """x with matrix·x = vector, for a symmetric positive definite matrix (Cholesky)."""
    n = len(vector)
    lower = [[0.0] * n for _ in range(n)]
    for i in range(n):
        row = lower[i]
        for j in range(i + 1):
            other = lower[j]
            total = matrix[i][j] - sum(row[k] * other[k] for k in range(j))
            if i == j:
                row[i] = math.sqrt(max(total, 1e-300))
            else:
                row[j] = total / other[j]
    y = [0.0] * n
    for i in range(n):
        y[i] = (vector[i] - sum(lower[i][k] * y[k] for k in range(i))) / lower[i][i]
    x = [0.0] * n
    for i in reversed(range(n)):
        x[i] = (y[i] - sum(lower[k][i] * x[k] for k in range(i + 1, n))) / lower[i][i]
    return x


def ratings_of(log_strengths: Sequence[float]) -> list[float]:
    """Log-strengths on the Elo scale, shifted so their mean is `MEAN`."""
    points = [SCALE * x / math.log(10) for x in log_strengths]
    if not points:
        return []
    shift = MEAN - statistics.fmean(points)
    return [x + shift for x in points]


@dataclass(frozen=True, slots=True)
class Speed:
    """Medians of a model's finished results in the store; None when none had the figure."""

    median_ttft_s: float | None = None
    median_tokens_per_s: float | None = None
    samples: int = 0


@dataclass(slots=True)
class Standing:
    """One model's line on the board."""

    model: str
    rating: float
    low: float | None = None
    high: float | None = None
    wins: int = 0
    losses: int = 0
    ties: int = 0
    all_bad: int = 0
    votes: int = 0
    blind_votes: int = 0
    speed: Speed = field(default_factory=Speed)

    def to_json(self, rank: int) -> dict[str, object]:
        def rounded(x: float | None, digits: int = 1) -> float | None:
            return None if x is None else round(x, digits)

        return {
            "rank": rank,
            "model": self.model,
            "rating": rounded(self.rating),
            "ci_low": rounded(self.low),
            "ci_high": rounded(self.high),
            "wins": self.wins,
            "losses": self.losses,
            "ties": self.ties,
            "all_bad": self.all_bad,
            "votes": self.votes,
            "blind_votes": self.blind_votes,
            "median_ttft_s": rounded(self.speed.median_ttft_s, 4),
            "median_tokens_per_s": rounded(self.speed.median_tokens_per_s, 2),
            "speed_samples": self.speed.samples,
        }


@dataclass(slots=True)
class Leaderboard:
    """Standings best first, and how they were computed."""

    standings: list[Standing]
    votes: int
    blind_votes: int
    blind_only: bool = False
    rounds: int = ROUNDS
    seed: int = SEED
    prior: float = PRIOR_DRAWS

    def to_json(self) -> dict[str, object]:
        return {
            "votes": self.votes,
            "blind_votes": self.blind_votes,
            "blind_only": self.blind_only,
            "scale": {"points_per_tenfold_odds": SCALE, "mean_rating": MEAN},
            "prior_draws": self.prior,
            "bootstrap": {"rounds": self.rounds, "confidence": CONFIDENCE, "seed": self.seed},
            "models": [s.to_json(rank) for rank, s in enumerate(self.standings, 1)],
        }


def _interval(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    # n=40 cuts fall at 2.5%, 5%, …, 97.5%: the first and last bound a 95% interval.
    cuts = statistics.quantiles(values, n=40, method="inclusive")
    return cuts[0], cuts[-1]


def _tally(
    votes: Sequence[Vote], index: dict[str, int]
) -> tuple[list[list[tuple[int, int, float]]], dict[tuple[int, int], float]]:
    per_vote = [[(index[a], index[b], w) for a, b, w in pairs_of(vote)] for vote in votes]
    wins: dict[tuple[int, int], float] = {}
    for pairs in per_vote:
        for i, j, w in pairs:
            wins[i, j] = wins.get((i, j), 0.0) + w
    return per_vote, wins


def build(
    votes: Sequence[Vote],
    speeds: dict[str, Speed] | None = None,
    *,
    blind_only: bool = False,
    rounds: int = ROUNDS,
    seed: int = SEED,
    prior: float = PRIOR_DRAWS,
) -> Leaderboard:
    """The board for these votes (pure: no store), best rating first."""
    if blind_only:
        votes = [v for v in votes if v.blind]
    models = sorted({m for v in votes for m in v.models})
    index = {m: i for i, m in enumerate(models)}
    per_vote, wins = _tally(votes, index)
    theta = fit(len(models), wins, prior)
    standings = [Standing(m, r) for m, r in zip(models, ratings_of(theta), strict=True)]
    for vote in votes:
        for m in dict.fromkeys(vote.models):
            s = standings[index[m]]
            s.votes += 1
            s.blind_votes += vote.blind
            if vote.verdict == "win":
                if m == vote.winner:
                    s.wins += 1
                else:
                    s.losses += 1
            elif vote.verdict == "tie":
                s.ties += 1
            else:
                s.all_bad += 1
                s.ties += 1
    if models and rounds > 0:
        samples = _bootstrap(per_vote, len(models), theta, rounds, seed, prior)
        for s, values in zip(standings, samples, strict=True):
            s.low, s.high = _interval(values)
    for s in standings:
        s.speed = (speeds or {}).get(s.model, Speed())
    standings.sort(key=lambda s: (-s.rating, s.model))
    return Leaderboard(
        standings,
        votes=len(votes),
        blind_votes=sum(v.blind for v in votes),
        blind_only=blind_only,
        rounds=rounds,
        seed=seed,
        prior=prior,
    )


def _bootstrap(
    per_vote: list[list[tuple[int, int, float]]],
    n: int,
    theta: list[float],
    rounds: int,
    seed: int,
    prior: float,
) -> list[list[float]]:
    """Every model's rating in each of `rounds` refits on votes drawn with replacement."""
    rng = random.Random(seed)
    samples: list[list[float]] = [[] for _ in range(n)]
    # Votes that decide the same pairs are one kind: a resample is then a count per kind.
    kinds: dict[tuple[tuple[int, int, float], ...], int] = {}
    kind_of = [kinds.setdefault(tuple(pairs), len(kinds)) for pairs in per_vote]
    pairs_of_kind = list(kinds)
    for _ in range(rounds):
        wins: dict[tuple[int, int], float] = {}
        for kind, count in Counter(rng.choices(kind_of, k=len(kind_of))).items():
            for i, j, w in pairs_of_kind[kind]:
                wins[i, j] = wins.get((i, j), 0.0) + w * count
        # Warm start from the full fit: a resample is near it, so few iterations are needed.
        for values, rating in zip(samples, ratings_of(fit(n, wins, prior, theta)), strict=True):
            values.append(rating)
    return samples


def speeds(models: Iterable[str], path: Path | None = None) -> dict[str, Speed]:
    """Median TTFT and tokens/s of each model over its finished results in stored races.

    One query over the result rows' timing columns; tokens are the API's count, else the
    estimate the race stored (`Result.output_tokens`), and tokens/s counts the tokens after
    the first over the generation phase, as `Result.tokens_per_s` does.
    """
    wanted = sorted(set(models))
    path = default_path() if path is None else path
    if not wanted:
        return {}
    with failures_as_store_errors(path):
        conn = connect(path, create=False)
        if conn is None:
            return {}
        try:
            marks = ",".join("?" * len(wanted))
            rows = conn.execute(
                "SELECT results.spec, results.start_s, results.first_token_s, results.end_s,"
                " COALESCE(results.reported_tokens, results.estimated_tokens)"
                " FROM results JOIN runs ON results.run_id = runs.id"
                " JOIN races ON runs.race_id = races.id"
                " WHERE races.kind = 'race' AND results.state = 'done'"
                f" AND results.spec IN ({marks})",
                wanted,
            ).fetchall()
        finally:
            conn.close()
    ttfts: dict[str, list[float]] = {m: [] for m in wanted}
    rates: dict[str, list[float]] = {m: [] for m in wanted}
    counts = dict.fromkeys(wanted, 0)
    for spec, start, first, end, tokens in rows:
        counts[spec] += 1
        if start is not None and first is not None:
            ttfts[spec].append(first - start)
        if tokens is not None and tokens >= 2 and first is not None and end is not None:
            span = end - first
            if span > 0:
                rates[spec].append((tokens - 1) / span)
    return {
        m: Speed(
            statistics.median(ttfts[m]) if ttfts[m] else None,
            statistics.median(rates[m]) if rates[m] else None,
            counts[m],
        )
        for m in wanted
        if counts[m]
    }


def leaderboard(
    path: Path | None = None,
    *,
    blind_only: bool = False,
    rounds: int = ROUNDS,
    seed: int = SEED,
) -> Leaderboard:
    """The board from the run store (blocking: call it from a worker thread)."""
    votes = load_votes(path)
    if blind_only:
        votes = [v for v in votes if v.blind]
    chosen = {m for v in votes for m in v.models}
    return build(votes, speeds(chosen, path), blind_only=blind_only, rounds=rounds, seed=seed)
