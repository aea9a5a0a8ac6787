"""From a spec to the adapter that speaks to it."""

from __future__ import annotations

import importlib

from providers.base import Adapter
from providers.catalog import BY_NAME
from providers.config import Config
from providers.spec import Spec, parse_spec


def make_adapter(spec: Spec | str, config: Config | None = None) -> Adapter:
    """Adapter modules are cheap to import: each SDK loads only when a client is built."""
    if isinstance(spec, str):
        spec = parse_spec(spec, config)
    if spec.endpoint is not None:
        from providers.adapters.openai_adapter import CompatibleAdapter

        return CompatibleAdapter(spec)
    module, _, name = BY_NAME[spec.provider].adapter.partition(":")
    adapter: type[Adapter] = getattr(importlib.import_module(module), name)
    return adapter(spec)
