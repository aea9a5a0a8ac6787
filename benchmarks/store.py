"""What the run store costs: saving a big race, listing a big history, bytes on disk.

    .venv/bin/python benchmarks/store.py [--races 10000] [--saves 30]

- save: one race of 16 models × 1,000 tokens, both sides (32 results, 32,000 chunks), saved
  as `modelrace run` saves it (open, one transaction, close), median and p95 of --saves;
- history: the newest 20 of --races stored races, a search over all of them, and every one;
- bytes per race: file size over races, for the big race and for a typical 3-model race.

Races are built in memory (no network): the store sees exactly what the engine records.
Everything happens in a temporary directory that is removed at the end.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from providers import store
from providers.events import Finished, Started, TextDelta, Usage
from providers.record import Result, Run
from providers.sim.text import answer_pieces

T0 = 10_000.0
BOTH = ("sync", "async")


def result(model: str, tokens: int, ttft: float, tps: float) -> Result:
    r = Result(model)
    r.apply(Started(T0))
    pieces = answer_pieces(f"fast,tokens={tokens}", "Explain asyncio.")[0]
    for i, piece in enumerate(pieces):
        r.apply(TextDelta(T0 + ttft + i / tps, piece))
    r.apply(Usage(T0 + ttft + tokens / tps, 12, tokens))
    r.apply(Finished(T0 + ttft + tokens / tps))
    return r


def race(
    models: int, tokens: int, prompt: str = "Explain asyncio.", modes: tuple[str, ...] = BOTH
) -> store.StoredRace:
    runs = [
        Run(
            mode,
            [result(f"sim:m{i}", tokens, 0.1 + i / 100, 50 + i) for i in range(models)],
            concurrent=mode == "async",
            t0=T0,
            t_end=T0 + 25.0,
        )
        for mode in modes
    ]
    return store.StoredRace(
        prompt, runs, "both" if len(modes) > 1 else modes[0], settings={"max_tokens": tokens}
    )


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def timed(fn, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--races", type=int, default=10_000)
    parser.add_argument("--saves", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        list_db = Path(tmp) / "list.db"
        for label, modes in (("one side (async)", ("async",)), ("both sides", BOTH)):
            db = Path(tmp) / f"{len(modes)}.db"
            big = race(16, 1000, modes=modes)
            store.save(big, db)  # the schema is created outside the timings
            saves = sorted(timed(lambda big=big, db=db: store.save(big, db), args.saves))
            p95 = saves[min(len(saves) - 1, round(0.95 * (len(saves) - 1)))]
            text = sum(len(r.text.encode()) for run in big.runs for r in run.results)
            print(
                f"save 16 models x 1,000 tokens, {label}: median "
                f"{ms(statistics.median(saves))}, p95 {ms(p95)}; "
                f"{db.stat().st_size / (args.saves + 1):,.0f} bytes per race "
                f"({text:,} of them answer text)"
            )

        typical = [race(3, 120, prompt=f"prompt number {i}") for i in range(args.races)]
        typical[args.races // 2].prompt = "the needle prompt"
        for start in range(0, args.races, 1000):
            store.save_many(typical[start : start + 1000], list_db)
        size = list_db.stat().st_size
        print(
            f"{args.races:,} races of 3 models x 120 tokens: "
            f"{size / args.races:,.0f} bytes per race"
        )
        for label, call in (
            ("history (newest 20)", lambda: store.history(limit=20, path=list_db)),
            ("history --search (all)", lambda: store.history("needle", None, list_db)),
            ("history --limit 0 (every race)", lambda: store.history(limit=None, path=list_db)),
        ):
            print(f"  {label}: median {ms(statistics.median(timed(call, 5)))}")


if __name__ == "__main__":
    main()
