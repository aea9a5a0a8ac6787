"""Command palette entries: every dashboard action, plus one entry per run mode."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Protocol, runtime_checkable

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.markup import escape


@runtime_checkable
class Dashboard(Protocol):
    """What the palette needs from the app (the dashboard in tui/app.py provides it)."""

    def palette_actions(self) -> list[tuple[str, str, str]]: ...
    def mode_names(self) -> list[str]: ...
    def set_mode(self, mode: str) -> None: ...
    def pipeline_files(self) -> list[Path]: ...
    async def open_pipeline(self, path: str | None) -> None: ...


class DashboardCommands(Provider):
    """Built from the app's own action table, so a new key gets its palette entry for free."""

    async def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        app = self.app
        commands: list[tuple[str, str, Callable[[], object]]] = []
        if not isinstance(app, Dashboard):
            return commands
        for name, help_text, action in app.palette_actions():
            commands.append((name, help_text, partial(app.run_action, action)))
        for mode in app.mode_names():
            commands.append(
                (
                    f"Mode: {mode}",
                    f"Run the next prompt in {mode} mode",
                    partial(app.set_mode, mode),
                )
            )
        # Finding pipeline files reads the disk: not on the event loop.
        files = await asyncio.to_thread(app.pipeline_files)
        for path in files:
            commands.append(
                (
                    f"Pipeline: {path.name}",
                    f"Run {path} with the prompt box as its input",
                    partial(app.open_pipeline, str(path)),
                )
            )
        return commands

    async def discover(self) -> Hits:
        for name, help_text, callback in await self._commands():
            yield DiscoveryHit(escape(name), callback, help=escape(help_text))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in await self._commands():
            score = matcher.match(name)
            if score > 0:
                # The palette reads names and help as markup; file names are not.
                yield Hit(score, matcher.highlight(escape(name)), callback, help=escape(help_text))
