"""Measure the local llama.cpp server: load time, memory, TTFT, and tokens/s at 1-8 streams.

    .venv/bin/python -m benchmarks.local [--max-tokens 64] [--parallel 8]

Sync runs the streams one after another with the sync OpenAI client in a worker thread;
async runs them all at once with AsyncOpenAI. Each stream asks for exactly --max-tokens
tokens (llama.cpp's `ignore_eos`), so the runs do the same work and only the overlap differs.
Every prompt is distinct (a serial number in front), so TTFT includes prompt processing.
Prints a Markdown table; measured, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from openai import AsyncOpenAI, OpenAI

from providers.local import LocalServer, resolve_model_path

PROMPT = "Tell me a short story about a lighthouse keeper."
_serial = iter(range(1_000_000))


@dataclass
class Stream:
    start: float
    first: float | None
    end: float
    tokens: int


def request_args(max_tokens: int) -> dict:
    # A number in front makes every prompt distinct, so llama.cpp's prompt cache cannot
    # hide the prompt's processing time from TTFT.
    return {
        "model": "smollm2",
        "messages": [{"role": "user", "content": f"{next(_serial)}. {PROMPT}"}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
        "extra_body": {"ignore_eos": True},
    }


def sync_stream(client: OpenAI, max_tokens: int) -> Stream:
    start, first, tokens = time.perf_counter(), None, 0
    for chunk in client.chat.completions.create(**request_args(max_tokens)):
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter()
        if chunk.usage:
            tokens = chunk.usage.completion_tokens
    return Stream(start, first, time.perf_counter(), tokens)


async def async_stream(client: AsyncOpenAI, max_tokens: int) -> Stream:
    start, first, tokens = time.perf_counter(), None, 0
    async for chunk in await client.chat.completions.create(**request_args(max_tokens)):
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter()
        if chunk.usage:
            tokens = chunk.usage.completion_tokens
    return Stream(start, first, time.perf_counter(), tokens)


def run_sync(url: str, n: int, max_tokens: int) -> tuple[float, list[Stream]]:
    client = OpenAI(base_url=url, api_key="local", max_retries=0)
    began = time.perf_counter()
    streams = [sync_stream(client, max_tokens) for _ in range(n)]
    return time.perf_counter() - began, streams


async def run_async(url: str, n: int, max_tokens: int) -> tuple[float, list[Stream]]:
    async with AsyncOpenAI(base_url=url, api_key="local", max_retries=0) as client:
        began = time.perf_counter()
        streams = await asyncio.gather(*(async_stream(client, max_tokens) for _ in range(n)))
        return time.perf_counter() - began, list(streams)


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of a process from /proc (Linux), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def row(mode: str, n: int, wall: float, streams: list[Stream], ratio: str = "") -> str:
    tokens = sum(s.tokens for s in streams)
    ttfts = [(s.first - s.start) * 1000 for s in streams if s.first is not None]
    return (
        f"| {mode} | {n} | {wall:.2f} | {tokens} | {tokens / wall:.1f} "
        f"| {statistics.mean(ttfts):.0f} | {max(ttfts):.0f} | {ratio} |"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--parallel", type=int, default=8, help="llama.cpp slots")
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp CPU threads")
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 2, 4, 8])
    args = parser.parse_args()

    with LocalServer(
        resolve_model_path("smollm2"), parallel=args.parallel, threads=args.threads
    ) as server:
        url, pid = server.base_url, server.pid
        assert url and pid
        print(f"load: {server.load_seconds:.2f} s (spawn to ready), RSS {rss_mib(pid):.0f} MiB")
        await asyncio.to_thread(run_sync, url, 1, 8)  # warm-up

        single_wall, (single,) = await asyncio.to_thread(run_sync, url, 1, args.max_tokens)
        decode = single.tokens / (single.end - single.first) if single.first else float("nan")
        print(
            f"one stream: TTFT {(single.first or single.end) - single.start:.3f} s, "
            f"{single.tokens / single_wall:.1f} tok/s end to end, {decode:.1f} tok/s decoding"
        )
        print()
        print("| mode | streams | wall s | tokens | aggregate tok/s | mean TTFT ms "
              "| max TTFT ms | async/sync |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|")
        for n in args.counts:
            sync_wall, sync_streams = await asyncio.to_thread(run_sync, url, n, args.max_tokens)
            async_wall, async_streams = await run_async(url, n, args.max_tokens)
            sync_rate = sum(s.tokens for s in sync_streams) / sync_wall
            async_rate = sum(s.tokens for s in async_streams) / async_wall
            print(row("sync", n, sync_wall, sync_streams))
            print(row("async", n, async_wall, async_streams, f"{async_rate / sync_rate:.2f}x"))
        print()
        print(f"peak RSS of the server child: {rss_mib(pid, 'VmHWM'):.0f} MiB")


if __name__ == "__main__":
    asyncio.run(main())
