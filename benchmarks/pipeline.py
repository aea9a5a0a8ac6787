"""What the pipeline scheduler costs: a wide fan-out and a long chain of short waits.

A wait step is an `asyncio.sleep` (async) or `time.sleep` (sync), so the wall time over the
ideal (the critical path concurrently, the sum sequentially) is the scheduler's own cost:
creating a task per step, waking dependents, recording. Run it with

    .venv/bin/python benchmarks/pipeline.py [--sizes 10,100,1000] [--wait 0.01]

No models are involved, so no simulator is needed.
"""

from __future__ import annotations

import argparse
import asyncio

from providers.pipeline import PipelineRunner, parse_pipeline


def fanout(n: int, wait: float) -> str:
    steps = [f'[steps.s{i}]\nwait = {wait}\noutput = "{i}"' for i in range(n)]
    joined = ", ".join(f'"s{i}"' for i in range(n))
    steps.append(f"[steps.merge]\nwait = {wait}\nafter = [{joined}]")
    return "\n".join(steps)


def chain(n: int, wait: float) -> str:
    steps = [f'[steps.s0]\nwait = {wait}\noutput = "0"']
    steps += [
        f'[steps.s{i}]\nwait = {wait}\nafter = ["s{i - 1}"]\noutput = "{{steps.s{i - 1}}}."'
        for i in range(1, n)
    ]
    return "\n".join(steps)


async def measure(shape: str, n: int, wait: float, mode: str) -> str:
    text = fanout(n, wait) if shape == "fanout" else chain(n, wait)
    pipeline = parse_pipeline(text, f"{shape}-{n}")
    [run] = await PipelineRunner(pipeline, "", mode).run()
    wall, ideal = run.wall_s or 0.0, run.ideal_s or 0.0
    per_step = (wall - ideal) / len(pipeline.steps) * 1e6
    return (
        f"{shape:6} n={n:<5} {mode:5}  wall {wall:8.3f}s  ideal {ideal:8.3f}s  "
        f"overhead {wall - ideal:7.3f}s  ({per_step:6.0f} µs/step)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--wait", type=float, default=0.01)
    args = parser.parse_args()
    for n in (int(s) for s in args.sizes.split(",")):
        for shape in ("fanout", "chain"):
            modes = ("async", "sync") if n <= 100 else ("async",)
            for mode in modes:
                print(asyncio.run(measure(shape, n, args.wait, mode)), flush=True)


if __name__ == "__main__":
    main()
