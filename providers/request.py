"""What one model is asked: the prompt and the settings shared by every model in a race."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Request:
    prompt: str
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    # Bounds one request from its start to its last byte.
    timeout: float | None = None

    def messages(self) -> list[dict[str, str]]:
        """Chat messages in the OpenAI/Ollama shape, system first when there is one."""
        out = [{"role": "system", "content": self.system}] if self.system else []
        out.append({"role": "user", "content": self.prompt})
        return out
