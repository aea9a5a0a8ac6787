"""The model set used when the user names none: offline first, plus every keyed provider."""

from __future__ import annotations

from providers.catalog import PROVIDERS
from providers.config import Config
from providers.environment import get_key

OFFLINE_DEFAULT = ("sim:fast", "sim:hosted", "sim:slow", "local:smollm2")

# One well-known model per hosted provider, added when its key is present.
KEYED_DEFAULTS: tuple[tuple[tuple[str, ...], str], ...] = tuple(
    (p.key_variables, f"{p.name}:{p.default_model}")
    for p in PROVIDERS
    if p.key_variables and p.default_model
)


def default_specs(config: Config) -> list[str]:
    """The configured models, else the offline set and one model per provider with a key."""
    if config.models:
        return list(config.models)
    specs = list(OFFLINE_DEFAULT)
    specs += [spec for names, spec in KEYED_DEFAULTS if get_key(*names)]
    return specs
