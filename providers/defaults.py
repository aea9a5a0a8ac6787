"""The model set used when the user names none: offline first, plus every keyed provider."""

from __future__ import annotations

from providers.config import Config
from providers.environment import get_key

OFFLINE_DEFAULT = ("sim:fast", "sim:hosted", "sim:slow", "local:smollm2")

# One well-known model per hosted provider, added when its key is present.
KEYED_DEFAULTS = (
    (("OPENAI_API_KEY",), "openai:gpt-5-mini"),
    (("GEMINI_API_KEY", "GOOGLE_API_KEY"), "gemini:gemini-2.5-flash"),
    (("ANTHROPIC_API_KEY",), "anthropic:claude-haiku-4-5"),
)


def default_specs(config: Config) -> list[str]:
    """The configured models, else the offline set and one model per provider with a key."""
    if config.models:
        return list(config.models)
    specs = list(OFFLINE_DEFAULT)
    specs += [spec for names, spec in KEYED_DEFAULTS if get_key(*names)]
    return specs
