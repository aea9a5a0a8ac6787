"""From a spec to the adapter that speaks to it."""

from __future__ import annotations

from providers.base import Adapter
from providers.config import Config
from providers.spec import Spec, parse_spec


def make_adapter(spec: Spec | str, config: Config | None = None) -> Adapter:
    """Adapter modules are cheap to import: each SDK loads only when a client is built."""
    if isinstance(spec, str):
        spec = parse_spec(spec, config)
    if spec.endpoint is not None:
        from providers.adapters.openai_adapter import CompatibleAdapter

        return CompatibleAdapter(spec)
    if spec.provider == "openai":
        from providers.adapters.openai_adapter import OpenAIAdapter

        return OpenAIAdapter(spec)
    if spec.provider == "anthropic":
        from providers.adapters.anthropic_adapter import AnthropicAdapter

        return AnthropicAdapter(spec)
    if spec.provider == "gemini":
        from providers.adapters.gemini_adapter import GeminiAdapter

        return GeminiAdapter(spec)
    if spec.provider == "ollama":
        from providers.adapters.ollama_adapter import OllamaAdapter

        return OllamaAdapter(spec)
    if spec.provider == "sim":
        from providers.adapters.sim_adapter import SimAdapter

        return SimAdapter(spec)
    from providers.adapters.local_adapter import LocalAdapter

    return LocalAdapter(spec)
