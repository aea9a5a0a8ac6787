"""The built-in providers, in one table: adding a provider is one row here and one adapter.

Everything else reads this table: the spec parser (which names exist), the registry (which
adapter class serves a name), the secret scrubber (which variables hold keys), the default
model set (one model per provider whose key is present) and the tests (which variables point
each SDK at the simulator). Adapter modules are named by path, so importing this table
imports no SDK.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    # "module:Class" of its adapter, imported only when a model of this provider is used.
    adapter: str
    # Any one of these variables is enough; the first is the one named when all are missing.
    key_variables: tuple[str, ...] = ()
    # The variable its SDK reads to talk to another server (a proxy, a compatible server).
    base_url_variable: str | None = None
    # Added to the default model set when a key variable is set.
    default_model: str | None = None
    # The wire format it speaks: "openai", "anthropic", "gemini" or "ollama".
    wire: str = "openai"


PROVIDERS: tuple[Provider, ...] = (
    Provider(
        "openai",
        "providers.adapters.openai_adapter:OpenAIAdapter",
        ("OPENAI_API_KEY",),
        "OPENAI_BASE_URL",
        "gpt-5-mini",
    ),
    Provider(
        "gemini",
        "providers.adapters.gemini_adapter:GeminiAdapter",
        ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
        "GOOGLE_GEMINI_BASE_URL",
        "gemini-2.5-flash",
        wire="gemini",
    ),
    Provider(
        "ollama",
        "providers.adapters.ollama_adapter:OllamaAdapter",
        base_url_variable="OLLAMA_HOST",
        wire="ollama",
    ),
    Provider(
        "anthropic",
        "providers.adapters.anthropic_adapter:AnthropicAdapter",
        ("ANTHROPIC_API_KEY",),
        "ANTHROPIC_BASE_URL",
        "claude-haiku-4-5",
        wire="anthropic",
    ),
    Provider("sim", "providers.adapters.sim_adapter:SimAdapter"),
    Provider("local", "providers.adapters.local_adapter:LocalAdapter"),
    # `replay:ID[:SPEC]`: a stored race played back by the simulator (providers/store/replay.py).
    Provider("replay", "providers.adapters.replay_adapter:ReplayAdapter"),
)

BY_NAME: dict[str, Provider] = {p.name: p for p in PROVIDERS}


def pointed_at(url: str, key: str = "placeholder") -> dict[str, str]:
    """Every SDK pointed at one server that speaks all four wires (the simulator, a test's
    server), through each SDK's own variables: its base URL (the OpenAI wire under /v1, as
    OpenAI serves it) and a key in its first key variable, for tests and benchmarks."""
    env: dict[str, str] = {}
    for p in PROVIDERS:
        if p.base_url_variable:
            env[p.base_url_variable] = url + "/v1" if p.wire == "openai" else url
        if p.key_variables:
            env[p.key_variables[0]] = f"{key}-{p.name}"
    return env
