"""UI-free library: talking to language models, and racing them.

Importing this package is cheap and never imports Textual or any SDK.
"""

from providers.base import Adapter
from providers.config import Config, ConfigError, Endpoint, load_config
from providers.environment import load_env
from providers.events import Event, Failed, Finished, Started, TextDelta, Usage
from providers.registry import make_adapter
from providers.request import Request
from providers.spec import Spec, SpecError, parse_spec

__all__ = [
    "Adapter",
    "Config",
    "ConfigError",
    "Endpoint",
    "Event",
    "Failed",
    "Finished",
    "Request",
    "Spec",
    "SpecError",
    "Started",
    "TextDelta",
    "Usage",
    "load_config",
    "load_env",
    "make_adapter",
    "parse_spec",
]
