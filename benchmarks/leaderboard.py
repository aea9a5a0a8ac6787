"""What the leaderboard costs: the fit with its bootstrap, and the speed medians.

    .venv/bin/python benchmarks/leaderboard.py [--votes 1000] [--models 10] [--races 300]

- fit: Bradley–Terry on --votes pairwise votes (10% ties) over --models models, without an
  interval and with 200, 500 (the default) and 1,000 bootstrap resamples;
- speeds: median TTFT and tokens/s of every model from --races stored races, by the one SQL
  query the leaderboard uses, against loading every race (`store.load`) and asking `Result`;
- with `choix` importable (e.g. PYTHONPATH at a venv that has it), the maximum-likelihood fit
  is compared with `choix.ilsr_pairwise` and both imports are timed.

Votes and races are made in memory from a seeded generator; the store lives in a temporary
directory that is removed at the end.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from providers import store
from providers.arena import leaderboard as lb
from providers.arena.votes import Vote, record_vote
from providers.events import Finished, Started, TextDelta, Usage
from providers.record import Result, Run

T0 = 10_000.0


def votes(n_votes: int, n_models: int, seed: int = 1) -> tuple[list[Vote], dict[str, float]]:
    rng = random.Random(seed)
    models = [f"sim:m{i}" for i in range(n_models)]
    strength = {m: rng.gauss(0, 1) for m in models}
    out = []
    for k in range(n_votes):
        a, b = rng.sample(models, 2)
        if rng.random() < 0.1:
            out.append(Vote(k, (a, b), "tie"))
            continue
        p_a = 1 / (1 + math.exp(strength[b] - strength[a]))
        out.append(Vote(k, (a, b), "win", a if rng.random() < p_a else b))
    return out, strength


def timed(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def race(n_models: int, rng: random.Random) -> store.StoredRace:
    results = []
    for i in range(n_models):
        r = Result(f"sim:m{i}")
        r.apply(Started(T0))
        ttft, tps = rng.uniform(0.05, 1.0), rng.uniform(20, 200)
        for k in range(60):
            r.apply(TextDelta(T0 + ttft + k / tps, "tok "))
        r.apply(Usage(T0 + ttft + 60 / tps, 12, 60))
        r.apply(Finished(T0 + ttft + 60 / tps))
        results.append(r)
    run = Run("async", results, concurrent=True, t0=T0, t_end=T0 + 2.0)
    return store.StoredRace("Explain asyncio.", [run], "async")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--votes", type=int, default=1000)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--races", type=int, default=300)
    args = parser.parse_args()

    made, _ = votes(args.votes, args.models)
    print(f"fit, {args.votes} votes × {args.models} models (median of 3):")
    for rounds in (0, 200, lb.ROUNDS, 1000):
        seconds = timed(lambda r=rounds: lb.build(made, rounds=r))  # type: ignore[misc]
        print(f"  {rounds:>5} bootstrap rounds: {seconds:.3f} s")

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "lb.db"
        rng = random.Random(2)
        ids = store.save_many([race(args.models, rng) for _ in range(args.races)], db)
        for k, race_id in enumerate(ids[: min(len(ids), 200)]):
            record_vote(Vote(race_id, ("sim:m0", "sim:m1"), "win", f"sim:m{k % 2}"), db)
        specs = [f"sim:m{i}" for i in range(args.models)]
        sql = timed(lambda: lb.speeds(specs, db))
        print(f"speeds from {args.races} races × {args.models} models:")
        print(f"  one SQL query:        {sql:.3f} s")

        def by_loading() -> None:
            ttft: dict[str, list[float]] = {}
            for race_id in ids:
                for r in store.load(race_id, db).runs[0].results:
                    if r.ttft is not None:
                        ttft.setdefault(r.source, []).append(r.ttft)

        print(f"  loading every race:   {timed(by_loading, 1):.3f} s")
        print(f"  whole board from the store: {timed(lambda: lb.leaderboard(db)):.3f} s")

    try:
        t = time.perf_counter()
        import choix  # type: ignore[import-not-found]
    except ImportError:
        print("choix not importable: no comparison")
        return
    print(f"import choix (numpy, scipy): {time.perf_counter() - t:.3f} s")
    models = sorted({m for v in made for m in v.models})
    index = {m: i for i, m in enumerate(models)}
    # choix takes whole wins only: every pair counted twice, a tie as one win each way.
    data = [
        (index[a], index[b]) for v in made for a, b, w in lb.pairs_of(v) for _ in range(int(2 * w))
    ]
    theirs = choix.ilsr_pairwise(len(models), data, alpha=0.0)
    ours = lb.fit(len(models), lb._tally(made, index)[1], prior=0.0)
    gap = max(
        abs(a - b) for a, b in zip(lb.ratings_of(list(theirs)), lb.ratings_of(ours), strict=True)
    )
    print(f"largest rating difference from choix.ilsr_pairwise (no prior): {gap:.2e} points")
    print(f"python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
