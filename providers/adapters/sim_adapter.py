"""`sim:NAME`: a simulated model, served by our own simulator over the OpenAI wire format.

Going through the real OpenAI SDK and a real socket keeps the simulated timing honest: a
sync run really blocks, an async run really overlaps.
"""

from __future__ import annotations

from providers.adapters.openai_adapter import OpenAIAdapter


class SimAdapter(OpenAIAdapter):
    max_tokens_field = "max_tokens"
    preparing_note = "starting the simulator…"

    def api_key(self) -> str:
        return "sim"

    def spec_problem(self) -> str | None:
        from providers.sim import SimError, profile_for

        try:
            profile_for(self.spec.model)
        except SimError as exc:
            return str(exc)
        return None

    def base_url(self) -> str | None:
        from providers.sim import ensure_sim

        return ensure_sim() + "/v1"
