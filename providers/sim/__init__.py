"""The simulator: a loopback HTTP server that speaks the OpenAI, Anthropic, Gemini and
Ollama chat wire formats with scripted timing and faults, for demos and tests without keys."""

from .process import SimProcess, ensure_sim, start_sim_process
from .profiles import PROFILES, Profile, SimError, profile_for
from .server import SimServer
from .text import answer_pieces, count_tokens, expected_answer

__all__ = [
    "PROFILES",
    "Profile",
    "SimError",
    "SimProcess",
    "SimServer",
    "answer_pieces",
    "count_tokens",
    "ensure_sim",
    "expected_answer",
    "profile_for",
    "start_sim_process",
]
