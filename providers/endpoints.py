"""What models a configured OpenAI-compatible endpoint serves (`GET {base_url}/models`).

The picker asks so a user can choose `NAME:model-id` without knowing the ids by heart. Blocking
(httpx, short timeout): call it from a worker thread, never from the event loop. A server that
does not answer yields a short reason, never an exception: the list is a convenience.
"""

from __future__ import annotations

from dataclasses import dataclass

from providers.config import Endpoint
from providers.environment import get_key, one_line

LIST_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class ModelList:
    endpoint: str
    models: tuple[str, ...] = ()
    # Why there is no list ("timed out", "HTTP 401", …); None when the server answered.
    problem: str | None = None

    @property
    def specs(self) -> list[str]:
        return [f"{self.endpoint}:{model}" for model in self.models]


def list_models(endpoint: Endpoint, timeout: float = LIST_TIMEOUT) -> ModelList:
    """The endpoint's model ids, in the server's order; the key goes only in the header."""
    import httpx

    headers = {"Accept": "application/json"}
    key = get_key(endpoint.api_key_env) if endpoint.api_key_env else None
    if key:
        headers["Authorization"] = f"Bearer {key}"
    url = endpoint.base_url.rstrip("/") + "/models"
    try:
        response = httpx.get(url, headers=headers, timeout=timeout)
    except httpx.TimeoutException:
        return ModelList(endpoint.name, problem="timed out")
    except httpx.HTTPError as exc:
        kind = "not reachable" if isinstance(exc, httpx.ConnectError) else type(exc).__name__
        return ModelList(endpoint.name, problem=kind)
    if response.status_code != 200:
        return ModelList(endpoint.name, problem=f"HTTP {response.status_code}")
    try:
        data = response.json().get("data")
        ids = tuple(str(item["id"]) for item in data)
    except (ValueError, AttributeError, TypeError, KeyError):
        return ModelList(endpoint.name, problem="the answer is not a model list")
    return ModelList(endpoint.name, tuple(one_line(i, 120) for i in ids))
