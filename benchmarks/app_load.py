"""The dashboard under real load: N simulated models streaming through the real SDKs.

The real app (ModelRaceApp, headless 200x60, driven by Textual's pilot) races N models of the
simulator, which runs in a process of its own: its pacing is not disturbed by the app, and its
CPU is not counted as the app's. Each model streams 100 tokens/s for --seconds (`plain`), or
(`oneline`) answers one 20,000-token line with no line break in --seconds, 100 events a second
of several tokens each (sim knobs `newlines=off,burst=K`): the SDKs do the same work, the
panels get 20,000 tokens on one line. Every configuration runs in a fresh process and races
twice: Enter is pressed with the prompt box focused, as a user does, and the second race (a
new chat, f5, so the same work as the first) is the one measured for load (SDKs imported and
clients kept, as for every race after the first).

Measured over the second race, from its Enter until its clock stops:
- event-loop lag: how late a 20 ms ticker on the app's loop wakes (providers/looplag.py);
- cores: the app process's CPU time over wall time (the simulator's process excluded);
- token→screen: from a chunk's arrival stamp in its Result to the first paint of its panel
  that includes it (StreamView.record_paints), for the panels on screen all along;
and for both races, Enter → clock start: the run's t0 minus the moment Enter was pressed;
the loop's worst lag in the 0.5 s after the race (answers swapped for their Markdown) apart.
On a busy machine the figures measure the machine: "loop waiting for a CPU" is the share of
the race the loop's thread was ready to run but had no core (Linux schedstat); near 0% on a
quiet machine, and figures taken above a few percent are not the app's.
Frames are turned into terminal output as a real driver would (benchmarks/render.py), though
headless. `--wires mixed` spreads the models over the OpenAI, Anthropic, Gemini and Ollama
SDKs, all pointed at the simulator.

The bare-SDK reference (`--no-bare` skips it) puts the app beside what the same streams cost
a user's plain script: right after each app run, a fresh process with a simulator of its own
streams the same models through each SDK's plain streaming call (no engine, no Textual; one
async client per 8 models of an SDK, as the app's pool has), races twice and is measured the
same way over the second race (its cores, lag from the same ticker), from the requests' start
until the last stream ends. "app / bare" is the app's cores over the bare script's, per run
pair: above 1 by what the dashboard and engine add, below 1 where the app decodes a stream
more cheaply than the SDK's own objects (the OpenAI wire: one pydantic object per chunk in
the bare script, plain JSON in the app). A stream that raises, shows no text or reports a
token count other than asked counts in `bare_failed`.

    .venv/bin/python benchmarks/app_load.py [--models 16,32,64] [--seconds 10] [--repeat 2]
        [--variants plain,oneline] [--wires sim|mixed] [--mode async] [--no-bare]

It prints a table of the spread (min–max over --repeat runs) and one JSON line with every run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZE = (200, 60)
TPS = 100
LONG_TOKENS = 20_000
PROMPT = "Why does asyncio make several LLM calls faster?"
SETTLE_S = 0.5
WIRES = {"sim": ("sim",), "mixed": ("sim", "anthropic", "gemini", "ollama")}
# Every field a run reports (the test checks the JSON line has them all).
FIELDS = (
    "lag_p50_ms",
    "lag_p99_ms",
    "lag_max_ms",
    "cores",
    "latency_p50_ms",
    "latency_p99_ms",
    "enter_to_clock_first_ms",
    "enter_to_clock_second_ms",
    "first_race_lag_p99_ms",
    "first_race_lag_max_ms",
    "first_race_cores",
    "end_lag_max_ms",
    "panels_on_screen",
    "all_shown",
    "failed",
    "tokens_per_model",
    "sim_cores",
    "runqueue_wait",
    "loadavg_1m",
    "bare_cores",
    "bare_lag_p50_ms",
    "bare_lag_p99_ms",
    "bare_lag_max_ms",
    "bare_failed",
)


def specs(n: int, seconds: float, variant: str, wires: str) -> tuple[list[str], int]:
    """The model specs, and the tokens each answer has."""
    if variant == "oneline":
        tokens = LONG_TOKENS
        burst = max(1, round(LONG_TOKENS / (TPS * seconds)))
        knobs = f"tps={LONG_TOKENS / seconds:g},tokens={tokens},burst={burst},newlines=off"
    else:
        tokens = max(1, round(TPS * seconds))
        knobs = f"tps={TPS},tokens={tokens}"
    providers = WIRES[wires]
    out = [
        f"{providers[i % len(providers)]}:fast,ttft=0.1,{knobs},jitter=0,seed={i}" for i in range(n)
    ]
    return out, tokens


def runqueue_wait_s() -> float:
    """How long this process's main thread (the event loop's) has waited for a CPU while
    ready to run: what a loaded machine takes from the app, beside what it spent itself."""
    try:
        return int(Path("/proc/thread-self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return float("nan")


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of another process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def race_once(app: Any, pilot: Any, deadline_s: float) -> dict[str, Any]:
    """Press Enter with the prompt typed; measure until the race's clock stops, then the
    settle after it (where the answers are swapped for their Markdown rendering)."""
    from benchmarks.render import latencies
    from providers.looplag import LagProbe

    for panel in app.panels:
        panel.view.painted.clear()
    before = app.race
    app.prompt_box.load_text(PROMPT)
    probe = LagProbe()
    await probe.start()
    waited0, cpu0, wall0 = runqueue_wait_s(), time.process_time(), time.perf_counter()
    await pilot.press("enter")
    limit = wall0 + deadline_s
    # Token→screen counts the panels on screen all along (the page can change as the
    # timeline grows and takes room from the panels).
    always = {id(p) for p in app.panels}
    while app.race is before or app.race.runs[-1].t_end is None:
        if time.perf_counter() > limit:
            raise SystemExit(f"race did not end within {deadline_s:.0f} s")
        always &= {id(p) for p in app.panels if p.display}
        await asyncio.sleep(0.05)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    waited = runqueue_wait_s() - waited0
    lag = await probe.stop()
    end_probe = LagProbe()
    await end_probe.start()
    await asyncio.sleep(SETTLE_S)
    end_lag = await end_probe.stop()
    run = app.race.runs[-1]
    ours = {id(r) for r in run.results}
    shown = [p for p in app.panels if id(p) in always and p.display and id(p.result) in ours]
    lat, complete = latencies([p.result for p in shown], [list(p.view.painted) for p in shown])
    return {
        "enter_to_clock_ms": (run.t0 - wall0) * 1000,
        "lags": probe.lags,
        "lag_max_ms": lag.max_s * 1000,
        "end_lag_max_ms": end_lag.max_s * 1000,
        "cores": cpu / wall,
        "runqueue_wait": waited / wall,
        "latencies": lat,
        "all_shown": complete,
        "panels_on_screen": len(shown),
        "failed": sum(not r.ok for r in run.results),
        "tokens": [r.output_tokens or 0 for r in run.results],
    }


async def quiet(app: Any, pilot: Any, timeout: float) -> None:
    """Wait for the answers on screen to be rendered as Markdown (not measured)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        views = [p.view for p in app.panels if p.display and p.result is not None]
        if all(v.rendered_markdown for v in views if v.row_count()):
            break
        await pilot.pause(0.1)
    await pilot.pause(0.3)


async def bench(n: int, seconds: float, variant: str, wires: str, mode: str) -> dict[str, Any]:
    from benchmarks.render import hook_frames
    from providers.catalog import pointed_at
    from providers.environment import loopback_no_proxy
    from providers.looplag import percentile
    from providers.sim import start_sim_process
    from tui.app import ModelRaceApp
    from tui.history import PromptHistory

    loopback_no_proxy()
    models, tokens = specs(n, seconds, variant, wires)
    with start_sim_process() as sim:
        os.environ["MODELRACE_SIM_URL"] = sim.url
        os.environ.update(pointed_at(sim.url))
        app = ModelRaceApp(models, history=PromptHistory(None), mode=mode)
        # Anthropic's default cap (4096) would cut a long answer short.
        app.settings = type(app.settings)(max_tokens=tokens)
        frames: list[float] = []
        deadline = 3 * seconds + 60
        async with app.run_test(size=SIZE) as pilot:
            hook_frames(app, frames)
            await pilot.pause(0.5)
            for panel in app.panels:
                panel.view.record_paints = True
            first = await race_once(app, pilot, deadline)
            await quiet(app, pilot, deadline)
            # A new chat (f5): the second race asks the same question afresh, not a follow-up
            # that would send each model its first answer and show it above the new one.
            await pilot.press("f5")
            sim_cpu0, sim_wall0 = cpu_s(sim.proc.pid), time.perf_counter()
            second = await race_once(app, pilot, deadline)
            sim_cores = (cpu_s(sim.proc.pid) - sim_cpu0) / (time.perf_counter() - sim_wall0)
            await quiet(app, pilot, deadline)
    ms = 1000
    return {
        "models": n,
        "variant": variant,
        "wires": wires,
        "mode": mode,
        "seconds": seconds,
        "lag_p50_ms": percentile(second["lags"], 0.5) * ms,
        "lag_p99_ms": percentile(second["lags"], 0.99) * ms,
        "lag_max_ms": second["lag_max_ms"],
        "cores": second["cores"],
        "latency_p50_ms": percentile(second["latencies"], 0.5) * ms,
        "latency_p99_ms": percentile(second["latencies"], 0.99) * ms,
        "enter_to_clock_first_ms": first["enter_to_clock_ms"],
        "enter_to_clock_second_ms": second["enter_to_clock_ms"],
        "first_race_lag_p99_ms": percentile(first["lags"], 0.99) * ms,
        "first_race_lag_max_ms": first["lag_max_ms"],
        "first_race_cores": first["cores"],
        "end_lag_max_ms": second["end_lag_max_ms"],
        "panels_on_screen": second["panels_on_screen"],
        "all_shown": second["all_shown"],
        "failed": first["failed"] + second["failed"],
        "tokens_per_model": min(second["tokens"], default=0),
        "sim_cores": sim_cores,
        "runqueue_wait": second["runqueue_wait"],
        "loadavg_1m": os.getloadavg()[0],
    }


# The bare reference: the same streams through each SDK's plain streaming call, as a user's own
# script would make them; no engine, no Textual.


def bare_client(provider: str, url: str) -> Any:
    """One async client of the SDK a spec's provider speaks, pointed at the simulator."""
    if provider == "anthropic":
        import anthropic

        return anthropic.AsyncAnthropic(base_url=url)
    if provider == "gemini":
        from google import genai

        # Base URL and key from the variables `pointed_at` set.
        return genai.Client()
    if provider == "ollama":
        import ollama

        return ollama.AsyncClient(host=url)
    import openai

    return openai.AsyncOpenAI(base_url=url + "/v1", api_key="sim")


async def bare_close(provider: str, client: Any) -> None:
    if provider == "gemini":
        await client.aio.aclose()
    else:
        await client.close()


async def bare_stream(provider: str, client: Any, model: str, tokens: int) -> tuple[int, int]:
    """One answer streamed as the SDK's docs show: (text deltas seen, output tokens reported)."""
    deltas = out = 0
    messages = [{"role": "user", "content": PROMPT}]
    if provider == "anthropic":
        events = await client.messages.create(
            model=model, max_tokens=tokens, messages=messages, stream=True
        )
        async for event in events:
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                deltas += 1
            elif event.type == "message_delta":
                out = event.usage.output_tokens
    elif provider == "gemini":
        from google.genai import types

        chunks = await client.aio.models.generate_content_stream(
            model=model,
            contents=PROMPT,
            config=types.GenerateContentConfig(max_output_tokens=tokens),
        )
        async for chunk in chunks:
            deltas += bool(chunk.text)
            usage = chunk.usage_metadata
            if usage is not None and usage.candidates_token_count:
                out = usage.candidates_token_count
    elif provider == "ollama":
        parts = await client.chat(
            model=model, messages=messages, stream=True, options={"num_predict": tokens}
        )
        async for part in parts:
            deltas += bool(part.message.content)
            if part.done:
                out = part.eval_count or 0
    else:
        stream = await client.chat.completions.create(
            model=model,
            messages=messages,
            max_tokens=tokens,
            stream=True,
            stream_options={"include_usage": True},
        )
        async for chunk in stream:
            deltas += bool(chunk.choices and chunk.choices[0].delta.content)
            if chunk.usage is not None:
                out = chunk.usage.completion_tokens
    return deltas, out


async def bare_race(
    jobs: list[tuple[str, Any, str]], tokens: int, deadline_s: float
) -> dict[str, Any]:
    """All streams at once; measured from the requests' start until the last stream ends."""
    from providers.looplag import LagProbe

    async def one(provider: str, client: Any, model: str) -> bool:
        try:
            deltas, out = await bare_stream(provider, client, model, tokens)
        except Exception as exc:
            print(f"bare {provider}:{model}: {exc!r}", file=sys.stderr)
            return False
        return deltas > 0 and out == tokens

    probe = LagProbe()
    await probe.start()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    try:
        ok = await asyncio.wait_for(asyncio.gather(*(one(*job) for job in jobs)), deadline_s)
    except TimeoutError:
        raise SystemExit(f"bare race did not end within {deadline_s:.0f} s") from None
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    lag = await probe.stop()
    return {
        "cores": cpu / wall,
        "lags": probe.lags,
        "lag_max_ms": lag.max_s * 1000,
        "failed": ok.count(False),
    }


async def bench_bare(n: int, seconds: float, variant: str, wires: str) -> dict[str, Any]:
    """The same models from a simulator of its own, through the bare SDKs, raced twice."""
    from providers.catalog import pointed_at
    from providers.clients import MODELS_PER_CLIENT
    from providers.environment import loopback_no_proxy
    from providers.looplag import percentile
    from providers.sim import start_sim_process

    loopback_no_proxy()
    models, tokens = specs(n, seconds, variant, wires)
    with start_sim_process() as sim:
        os.environ.update(pointed_at(sim.url))
        # As the app's pool does: one client per MODELS_PER_CLIENT models of one SDK.
        clients: dict[tuple[str, int], Any] = {}
        seen: dict[str, int] = {}
        jobs = []
        for spec in models:
            provider, model = spec.split(":", 1)
            index = seen[provider] = seen.get(provider, -1) + 1
            key = (provider, index // MODELS_PER_CLIENT)
            if key not in clients:
                clients[key] = bare_client(provider, sim.url)
            jobs.append((provider, clients[key], model))
        deadline = 3 * seconds + 60
        first = await bare_race(jobs, tokens, deadline)  # warms the connections
        await asyncio.sleep(SETTLE_S)
        second = await bare_race(jobs, tokens, deadline)
        for (provider, _), client in clients.items():
            await bare_close(provider, client)
    ms = 1000
    return {
        "bare_cores": second["cores"],
        "bare_lag_p50_ms": percentile(second["lags"], 0.5) * ms,
        "bare_lag_p99_ms": percentile(second["lags"], 0.99) * ms,
        "bare_lag_max_ms": second["lag_max_ms"],
        "bare_failed": first["failed"] + second["failed"],
    }


def run_child(
    n: int, args: argparse.Namespace, variant: str, flag: str = "--one"
) -> dict[str, Any]:
    """One configuration in a fresh process (`--one`: the app; `--one-bare`: the bare SDKs):
    its first race is really the first."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "modelrace.toml"
        config.write_text("")
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "MODELRACE_CONFIG": str(config),
            "MODELRACE_DB": str(Path(tmp) / "modelrace.db"),
            "MODELRACE_NO_DOTENV": "1",
        }
        env.pop("MODELRACE_SIM_URL", None)
        cmd = [
            sys.executable,
            __file__,
            flag,
            str(n),
            variant,
            "--seconds",
            str(args.seconds),
            "--wires",
            args.wires,
            "--mode",
            args.mode,
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, cwd=ROOT)
    if out.returncode != 0:
        what = "bare SDKs" if flag == "--one-bare" else "app"
        raise SystemExit(f"{n} models, {variant}, {what}: failed\n{out.stderr[-3000:]}")
    row: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return row


def spread(rows: list[dict[str, Any]], key: str, fmt: str = ".0f") -> str:
    return span([r[key] for r in rows], fmt)


def span(values: list[float], fmt: str) -> str:
    """min–max, or one figure when both read the same."""
    low, high = min(values), max(values)
    if f"{low:{fmt}}" == f"{high:{fmt}}":
        return f"{low:{fmt}}"
    return f"{low:{fmt}}–{high:{fmt}}"


def cores_ratio(rows: list[dict[str, Any]]) -> str:
    """App cores over bare cores, per run pair (the app's and the bare run taken together)."""
    values = [r["cores"] / r["bare_cores"] for r in rows if r.get("bare_cores")]
    return span(values, ".2f") if values else "—"


def bare_spread(rows: list[dict[str, Any]], key: str, fmt: str) -> str:
    return spread(rows, key, fmt) if all(key in r for r in rows) else "—"


def print_table(groups: list[list[dict[str, Any]]], args: argparse.Namespace) -> None:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"{args.seconds:g} s per race, {args.mode}, wires {args.wires}, headless "
        f"{SIZE[0]}x{SIZE[1]}, {args.repeat} run(s) per row (min–max); "
        f"{os.cpu_count()} CPUs, load average {load}"
    )
    print()
    print(
        "| models | answer | lag p50 / p99 / max (ms) | cores | bare SDK cores "
        "| app / bare cores | bare lag p99 (ms) | token→screen p50 / p99 (ms) "
        "| Enter→clock 1st / 2nd (ms) | lag max: 1st race / after race (ms) | on screen "
        "| sim cores | loop waiting for a CPU |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for rows in groups:
        r = rows[0]
        notes = []
        if any(x["failed"] for x in rows):
            notes.append(f"{max(x['failed'] for x in rows)} FAILED")
        if any(x.get("bare_failed") for x in rows):
            notes.append(f"{max(x.get('bare_failed', 0) for x in rows)} BARE FAILED")
        if not all(x["all_shown"] for x in rows):
            notes.append("NOT ALL SHOWN")
        print(
            f"| {r['models']} | {r['variant']}{' ' + ', '.join(notes) if notes else ''} "
            f"| {spread(rows, 'lag_p50_ms', '.1f')} / {spread(rows, 'lag_p99_ms', '.1f')} "
            f"/ {spread(rows, 'lag_max_ms')} | {spread(rows, 'cores', '.2f')} "
            f"| {bare_spread(rows, 'bare_cores', '.2f')} | {cores_ratio(rows)} "
            f"| {bare_spread(rows, 'bare_lag_p99_ms', '.1f')} "
            f"| {spread(rows, 'latency_p50_ms')} / {spread(rows, 'latency_p99_ms')} "
            f"| {spread(rows, 'enter_to_clock_first_ms')} / "
            f"{spread(rows, 'enter_to_clock_second_ms')} "
            f"| {spread(rows, 'first_race_lag_max_ms')} / {spread(rows, 'end_lag_max_ms')} "
            f"| {r['panels_on_screen']}/{r['models']} "
            f"| {spread(rows, 'sim_cores', '.2f')} | {spread(rows, 'runqueue_wait', '.0%')} |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="16,32,64", help="model counts, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each answer")
    parser.add_argument("--repeat", type=int, default=1, help="runs per configuration")
    parser.add_argument("--variants", default="plain,oneline", help="plain, oneline or both")
    parser.add_argument("--wires", choices=sorted(WIRES), default="sim")
    parser.add_argument("--mode", default="async", help="race mode (a concurrent one)")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare-SDK reference run")
    parser.add_argument("--one", nargs=2, metavar=("N", "VARIANT"), help=argparse.SUPPRESS)
    parser.add_argument("--one-bare", nargs=2, metavar=("N", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        n, variant = int(args.one[0]), args.one[1]
        print(json.dumps(asyncio.run(bench(n, args.seconds, variant, args.wires, args.mode))))
        return 0
    if args.one_bare:
        n, variant = int(args.one_bare[0]), args.one_bare[1]
        print(json.dumps(asyncio.run(bench_bare(n, args.seconds, variant, args.wires))))
        return 0
    try:
        sizes = [int(s) for s in args.models.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--models takes whole numbers, e.g. 16,32,64, not {args.models!r}")
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    bad = [v for v in variants if v not in ("plain", "oneline")]
    if bad or not sizes or min(sizes) < 1 or args.seconds <= 0 or args.repeat < 1:
        parser.error("need --models ≥ 1, --seconds > 0, --repeat ≥ 1, --variants plain,oneline")
    groups = []
    for variant in variants:
        for n in sizes:
            rows = []
            for _ in range(args.repeat):
                r = run_child(n, args, variant)
                # Right after the app's run of the same configuration: the same machine.
                bare = ""
                if not args.no_bare:
                    r.update(run_child(n, args, variant, "--one-bare"))
                    bare = f"; bare SDKs {r['bare_cores']:.2f} cores, lag p99 "
                    bare += f"{r['bare_lag_p99_ms']:.1f} ms"
                rows.append(r)
                print(
                    f"{n} models, {variant}: lag p99 {r['lag_p99_ms']:.1f} ms, "
                    f"{r['cores']:.2f} cores, Enter→clock {r['enter_to_clock_second_ms']:.0f} ms"
                    f"{bare}",
                    file=sys.stderr,
                    flush=True,
                )
            groups.append(rows)
    print_table(groups, args)
    print(
        json.dumps(
            {
                "seconds": args.seconds,
                "repeat": args.repeat,
                "wires": args.wires,
                "mode": args.mode,
                "cpus": os.cpu_count(),
                "loadavg": list(os.getloadavg()),
                "runs": [row for rows in groups for row in rows],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
