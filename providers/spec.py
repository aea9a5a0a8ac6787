"""Model specs, `PROVIDER:MODEL`, as users know them from other tools."""

from __future__ import annotations

import re
from dataclasses import dataclass

from providers.config import BUILTIN_PROVIDERS, Config, Endpoint
from providers.echo import quote

_PROVIDER = re.compile(r"^[a-z][a-z0-9_\-]*$")


class SpecError(ValueError):
    """A spec that names no usable model; the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class Spec:
    provider: str
    model: str
    # Set when the provider is a named OpenAI-compatible endpoint from the config file.
    endpoint: Endpoint | None = None

    def __str__(self) -> str:
        return f"{self.provider}:{self.model}"


def parse_spec(text: str, config: Config | None = None) -> Spec:
    """Split at the first colon: `ollama:qwen3:8b` is provider ollama, model `qwen3:8b`."""
    raw = text.strip()
    provider, sep, model = raw.partition(":")
    provider = provider.strip().lower()
    model = model.strip()
    if not sep or not provider or not model:
        raise SpecError(
            f"malformed model spec {quote(text)}: expected PROVIDER:MODEL, e.g. sim:fast"
        )
    if not _PROVIDER.match(provider):
        raise SpecError(f"malformed model spec {quote(text)}: bad provider name {quote(provider)}")
    endpoints = config.endpoints if config else {}
    if provider in endpoints:
        return Spec(provider, model, endpoints[provider])
    if provider not in BUILTIN_PROVIDERS:
        known = ", ".join(sorted((*BUILTIN_PROVIDERS, *endpoints)))
        raise SpecError(f"unknown provider {quote(provider)} in {quote(text)}; known: {known}")
    return Spec(provider, model)
