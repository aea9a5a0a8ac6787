"""What one model is asked: the prompt and the settings shared by every model in a race."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# A day: longer is surely a typo, and past ~9e9 s the OS rejects the timeout (OverflowError).
MAX_TIMEOUT_S = 86_400.0
# More would only hide a model that is down; each retry waits longer than the one before.
MAX_RETRIES = 10


class SettingsError(ValueError):
    """A setting no provider would accept; the message names it and says why, in one line."""


def check_settings(
    temperature: float | None, max_tokens: int | None, timeout: float | None
) -> None:
    """The one place the shared settings are checked: command line, dashboard and pipelines."""
    if temperature is not None and not 0 <= temperature <= 2:
        raise SettingsError(f"temperature must be between 0 and 2, not {temperature:g}")
    if max_tokens is not None and max_tokens < 1:
        raise SettingsError(f"max_tokens must be at least 1, not {max_tokens}")
    if timeout is not None and not 0 < timeout <= MAX_TIMEOUT_S:
        raise SettingsError(
            f"timeout must be a positive number of seconds up to {MAX_TIMEOUT_S:g}, not {timeout:g}"
        )


def check_retries(retries: int) -> None:
    if not 0 <= retries <= MAX_RETRIES:
        raise SettingsError(f"retries must be between 0 and {MAX_RETRIES}, not {retries}")


@dataclass(frozen=True, slots=True)
class Exchange:
    """One earlier turn as one model lived it: the prompt and that model's own answer."""

    prompt: str
    answer: str


@dataclass(frozen=True, slots=True)
class FollowUp:
    """Where a race sits in a conversation: its turn (1 for a fresh one), the stored race it
    follows, and each model's own earlier exchanges, by spec (a model not named has none)."""

    turn: int = 1
    parent_id: int | None = None
    histories: Mapping[str, tuple[Exchange, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Request:
    prompt: str
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    # Bounds one request from its start to its last byte.
    timeout: float | None = None
    # Further attempts after a 429, a 5xx or a connection error (providers/retry.py).
    retries: int = 0
    # This model's earlier turns of the conversation, oldest first (empty: a fresh question).
    history: tuple[Exchange, ...] = ()

    def __post_init__(self) -> None:
        check_settings(self.temperature, self.max_tokens, self.timeout)
        check_retries(self.retries)

    def following(self, history: Iterable[Exchange]) -> Request:
        """The same question asked after `history`."""
        return dataclasses.replace(self, history=tuple(history))

    def turns(self) -> list[tuple[str, str]]:
        """(role, text) of the conversation, oldest first, ending with this prompt; roles are
        "user" and "assistant" (each adapter names them as its API does), no system."""
        out: list[tuple[str, str]] = []
        for exchange in self.history:
            out += [("user", exchange.prompt), ("assistant", exchange.answer)]
        out.append(("user", self.prompt))
        return out

    def messages(self) -> list[dict[str, str]]:
        """Chat messages in the OpenAI/Ollama shape, system first when there is one."""
        out = [{"role": "system", "content": self.system}] if self.system else []
        out += [{"role": role, "content": text} for role, text in self.turns()]
        return out
