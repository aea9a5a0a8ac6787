"""How late the event loop wakes: the on-screen proof that nothing is blocking it.

A task sleeps 100 ms at a time and records how much later than asked it woke. Anything that
holds the loop (a blocking call, a slow render) shows up here at once.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from rich.text import Text
from textual.widgets import Static

from providers.looplag import percentile

INTERVAL_S = 0.1
WINDOW_S = 10.0


class LagMeter(Static):
    """`loop lag 2 ms · p99 9 ms` over the last ten seconds."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("loop lag –", id=id, markup=False)
        self.samples: deque[tuple[float, float]] = deque()
        self._ticker: asyncio.Task[None] | None = None

    def on_mount(self) -> None:
        self._ticker = asyncio.get_running_loop().create_task(self._tick())

    def on_unmount(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()

    @property
    def current_ms(self) -> float:
        return self.samples[-1][1] * 1000 if self.samples else 0.0

    @property
    def p99_ms(self) -> float:
        return percentile([lag for _, lag in self.samples], 0.99) * 1000

    async def _tick(self) -> None:
        shown = 0.0
        while True:
            before = time.perf_counter()
            await asyncio.sleep(INTERVAL_S)
            now = time.perf_counter()
            self.samples.append((now, max(0.0, now - before - INTERVAL_S)))
            while self.samples and self.samples[0][0] < now - WINDOW_S:
                self.samples.popleft()
            if now - shown >= 0.5:
                shown = now
                self._show()

    def hold(self) -> None:
        """Stop measuring and show no figure: for pictures that must not change between runs
        (the README's screenshot, snapshot tests)."""
        if self._ticker is not None:
            self._ticker.cancel()
        self.samples.clear()
        self.update("loop lag –", layout=False)

    def _show(self) -> None:
        current, p99 = self.current_ms, self.p99_ms
        style = "green" if p99 < 50 else "yellow" if p99 < 200 else "bold red"
        text = Text("loop lag ", style="dim")
        text.append(f"{current:.0f} ms", style=style)
        text.append(" · p99 ", style="dim")
        text.append(f"{p99:.0f} ms", style=style)
        self.update(text, layout=False)
