"""`mistral:MODEL`: Mistral's API, which speaks the OpenAI wire format (a hypothetical provider)."""

from __future__ import annotations

import os

from providers.adapters.openai_adapter import OpenAIAdapter
from providers.catalog import BY_NAME


class MistralAdapter(OpenAIAdapter):
    max_tokens_field = "max_tokens"

    def base_url(self) -> str | None:
        variable = BY_NAME[self.spec.provider].base_url_variable or ""
        return os.environ.get(variable) or "https://api.mistral.ai/v1"
