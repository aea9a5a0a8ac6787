"""Prompt history: in memory for up/down recall, and appended to a file in the data dir.

Known key values (and anything shaped like a key) are scrubbed before a prompt is stored.
File I/O is blocking, so the app calls `load` and `append_to_file` from a worker thread.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from providers.environment import redact

MAX_ENTRIES = 500


def default_path() -> Path:
    """`$MODELRACE_HISTORY`, else `history.jsonl` in the user data dir."""
    explicit = os.environ.get("MODELRACE_HISTORY")
    if explicit:
        return Path(explicit).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("modelrace")) / "history.jsonl"


class PromptHistory:
    """A list of prompts with a cursor; the draft being typed is kept while browsing."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.entries: list[str] = []
        self._index = 0
        self._draft = ""

    def load(self) -> None:
        """Read the file (blocking); entries typed meanwhile stay newest."""
        if self.path is None or not self.path.exists():
            return
        loaded: list[str] = []
        try:
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    prompt = json.loads(line).get("prompt")
                except (ValueError, AttributeError):
                    continue
                if isinstance(prompt, str) and prompt:
                    loaded.append(prompt)
        except OSError:
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
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps({"prompt": stored}) + "\n")
        except OSError:
            pass

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
