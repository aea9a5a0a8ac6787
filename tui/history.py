"""Prompt history: in memory for up/down recall, kept in the run store.

Known key values (and anything shaped like a key) are scrubbed before a prompt is stored.
The store is blocking I/O, so the app calls `load` and `append_to_file` from a worker thread.
A `history.jsonl` from before the store is imported once by `load`, then never written.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from providers.environment import redact
from providers.store import StoreError
from providers.store import default_path as default_path
from providers.store.prompts import MAX_PROMPTS, add_prompt, import_jsonl, recent_prompts

MAX_ENTRIES = MAX_PROMPTS


def legacy_path() -> Path:
    """Where the history lived before the store: `$MODELRACE_HISTORY`, else the data dir."""
    explicit = os.environ.get("MODELRACE_HISTORY")
    if explicit:
        return Path(explicit).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("modelrace")) / "history.jsonl"


class PromptHistory:
    """A list of prompts with a cursor; the draft being typed is kept while browsing.

    `path` is the run store's file (None: in memory only); `legacy` an old history.jsonl.
    """

    def __init__(self, path: Path | None = None, legacy: Path | None = None) -> None:
        self.path = path
        self.legacy = legacy
        self.entries: list[str] = []
        self._index = 0
        self._draft = ""

    def load(self) -> None:
        """Read the store (blocking); entries typed meanwhile stay newest.

        A store that cannot be read leaves the history empty: recall is a convenience, and
        the race itself reports the store's trouble when it saves.
        """
        if self.path is None:
            return
        try:
            if self.legacy is not None and self.legacy.exists():
                import_jsonl(self.legacy, self.path)
            loaded = recent_prompts(MAX_ENTRIES, self.path)
        except StoreError:
            return
        self.entries = [*loaded, *self.entries][-MAX_ENTRIES:]
        self.reset()

    def add(self, prompt: str) -> str | None:
        """Remember a sent prompt; returns the scrubbed text to store, or None if a repeat."""
        self.reset()
        if not prompt.strip() or (self.entries and self.entries[-1] == prompt):
            return None
        self.entries.append(prompt)
        del self.entries[:-MAX_ENTRIES]
        self.reset()
        return redact(prompt)

    def append_to_file(self, stored: str) -> None:
        """Keep a prompt `add` returned (blocking); a failing store only loses the recall."""
        if self.path is None:
            return
        with contextlib.suppress(StoreError):
            add_prompt(stored, self.path)

    def reset(self) -> None:
        self._index = len(self.entries)
        self._draft = ""

    def previous(self, current: str) -> str | None:
        if self._index == 0 or not self.entries:
            return None
        if self._index == len(self.entries):
            self._draft = current
        self._index -= 1
        return self.entries[self._index]

    def next(self) -> str | None:
        if self._index >= len(self.entries):
            return None
        self._index += 1
        if self._index == len(self.entries):
            return self._draft
        return self.entries[self._index]
