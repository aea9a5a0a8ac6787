"""Deterministic answer text for simulated models.

The text must read like a plausible answer (panels and Markdown rendering get exercised on
prose, not counters) and must be reproducible from outside the server: adapter tests call
:func:`expected_answer` and compare it with what their SDK received.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterator

from .profiles import profile_for

_TOPICS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "asyncio": (
        ("async", "await", "asyncio", "coroutine", "event loop", "gather", "taskgroup"),
        (
            "An event loop runs one coroutine at a time and switches only at an await.",
            "asyncio.gather starts every awaitable at once and returns their results in order.",
            "A TaskGroup cancels the remaining tasks as soon as one of them fails.",
            "Calling a blocking function inside a coroutine stalls every other task on the loop.",
            "asyncio.to_thread moves a blocking call to a worker thread and awaits its result.",
            "A semaphore is the simplest way to cap how many requests are in flight at once.",
        ),
    ),
    "concurrency": (
        ("concurren", "parallel", "thread", "sync", "sequential", "speed"),
        (
            "Concurrency overlaps waiting, while parallelism overlaps computing.",
            "Two calls of two seconds each take four seconds in sequence and two together.",
            "The total time of a concurrent run is bounded below by its slowest part.",
            "Threads help with blocking I/O, but the GIL still serialises Python bytecode.",
            "Past a certain concurrency limit the server queues requests and throughput flattens.",
            "Sequential code is easier to read, so make concurrent only the parts that wait.",
        ),
    ),
    "llm": (
        ("llm", "model", "gpt", "claude", "gemini", "token", "prompt", "stream"),
        (
            "A language model produces its answer one token at a time.",
            "Streaming shows the first words long before the whole answer is ready.",
            "A token is roughly three quarters of an English word.",
            "The system prompt sets the tone, and the user prompt sets the task.",
            "Smaller models answer faster, while larger ones tend to reason more carefully.",
            "Temperature trades predictability for variety in the chosen tokens.",
        ),
    ),
    "latency": (
        ("latency", "ttft", "fast", "slow", "time", "second", "throughput"),
        (
            "Time to first token measures how long the user stares at an empty panel.",
            "Tokens per second decide how quickly the rest of the answer fills in.",
            "Network latency adds a fixed cost to every request, however small the answer.",
            "Tail latency matters more than the median when many calls must all finish.",
            "Measure the wall time of the whole run, not only the time of each call.",
            "A warm connection pool saves a round trip on every request after the first.",
        ),
    ),
    "retrieval": (
        ("rag", "retriev", "search", "document", "pipeline", "embedding"),
        (
            "Retrieval steps that do not depend on each other can run at the same time.",
            "The answer step has to wait for every retrieval it depends on.",
            "The critical path of a pipeline is the longest chain of dependent steps.",
            "Caching embeddings avoids paying for the same document twice.",
            "A pipeline is only as fast as its slowest dependency chain.",
            "Good retrieval keeps the prompt short and the answer grounded.",
        ),
    ),
}

_OPENERS = (
    "Here is the short version about {topic}.",
    "Good question about {topic}.",
    "Let us look at {topic} step by step.",
    "A few points on {topic} are worth knowing.",
)

# Closing sentences of 1 to 12 words: the answer ends on a full stop at exactly N tokens.
_CLOSERS = (
    "Done.",
    "That's all.",
    "Hope this helps.",
    "That is the gist.",
    "That is the short answer.",
    "That covers the main points here.",
    "Those are the points that matter most.",
    "That is the core of it, in short.",
    "Those are the main points to keep in mind.",
    "Those are the main points to keep in mind here.",
    "In short, those are the points worth keeping in mind today.",
    "In short, those are the main points worth keeping in mind today.",
)

_PIECE = re.compile(r"\s*\S+\s*")


def split_pieces(text: str) -> list[str]:
    """Split text into tokens: each word with its following whitespace (joins back exactly)."""
    return _PIECE.findall(text)


def count_tokens(text: str) -> int:
    """How many simulated tokens ``text`` is (used for prompt and completion usage)."""
    return len(split_pieces(text))


def _digest(model_name: str, prompt: str, seed: int) -> bytes:
    return hashlib.sha256(f"{model_name}\0{prompt}\0{seed}".encode()).digest()


def rng_for(model_name: str, prompt: str, seed: int, purpose: str) -> random.Random:
    """A private RNG derived from (model, prompt, seed): same inputs, same choices."""
    return random.Random(_digest(model_name, prompt, seed) + purpose.encode())


def _topic_for(prompt: str, rng: random.Random) -> str:
    low = prompt.lower()
    scores = {name: sum(k in low for k in keys) for name, (keys, _) in _TOPICS.items()}
    best = max(scores.values())
    names = sorted(n for n, s in scores.items() if s == best)
    return names[0] if best else rng.choice(sorted(_TOPICS))


def iter_text_pieces(model_name: str, prompt: str, tokens: int, seed: int) -> Iterator[str]:
    """Prose of exactly ``tokens`` pieces, on the prompt's topic, deterministic, made lazily.

    Lazily, because the server sends each piece as it is made: a long answer costs neither
    memory nor a delay before its first byte.
    """
    rng = rng_for(model_name, prompt, seed, "text")
    topic = _topic_for(prompt, rng)
    others = [n for n in sorted(_TOPICS) if n != topic]
    rng.shuffle(others)
    opener = rng.choice(_OPENERS).format(topic=topic)
    sentences: list[str] = []
    for name in [topic, *others]:
        pool = list(_TOPICS[name][1])
        rng.shuffle(pool)
        sentences.extend(pool)
    lengths = [count_tokens(s) for s in sentences]
    held: str | None = None  # one piece held back: the very last one loses its whitespace
    count = 0
    chosen = 0
    misses = 0

    def pieces_of(sentence: str) -> list[str]:
        nonlocal chosen
        chosen += 1
        return split_pieces(sentence + ("\n\n" if chosen % 4 == 0 else " "))

    def emit(sentence: str) -> Iterator[str]:
        nonlocal held
        for piece in pieces_of(sentence):
            if held is not None:
                yield held
            held = piece

    if count_tokens(opener) + 1 < tokens:
        yield from emit(opener)
        count = count_tokens(opener)
    # Whole sentences while they fit, then a closer of exactly the words left.
    while tokens - count > len(_CLOSERS) and misses < len(sentences):
        index = (chosen + misses - 1) % len(sentences)
        if count + lengths[index] <= tokens:
            yield from emit(sentences[index])
            count += lengths[index]
            misses = 0
        else:
            misses += 1
    left = tokens - count
    if 0 < left <= len(_CLOSERS):
        yield from emit(_CLOSERS[left - 1])
    if held is not None:
        yield held.rstrip()


def generate_text(model_name: str, prompt: str, tokens: int, seed: int) -> str:
    """Prose of exactly ``tokens`` pieces, on the prompt's topic, deterministic."""
    return "".join(iter_text_pieces(model_name, prompt, tokens, seed))


class Answer:
    """The pieces the server streams for one model and prompt, made as they are sent.

    Iterating gives ``(piece, last)``; ``finish`` is ``"stop"``, or ``"length"`` when
    ``max_tokens`` cut the answer, and is settled before the last piece is given.
    """

    def __init__(
        self, model_name: str, prompt: str, max_tokens: int | None = None, text: str | None = None
    ) -> None:
        profile = profile_for(model_name)
        text = profile.text if text is None else text
        if text is not None:
            self._pieces: Iterator[str] = iter(split_pieces(text))
        else:
            self._pieces = iter_text_pieces(
                model_name.strip(), prompt, profile.tokens, profile.seed
            )
        if not profile.newlines:
            self._pieces = (piece.replace("\n", " ") for piece in self._pieces)
        self.max_tokens = None if max_tokens is None else max(max_tokens, 0)
        self.finish = "stop"

    def __iter__(self) -> Iterator[tuple[str, bool]]:
        sent = 0
        if self.max_tokens == 0:
            if next(self._pieces, None) is not None:
                self.finish = "length"
            return
        piece = next(self._pieces, None)
        while piece is not None:
            sent += 1
            upcoming = next(self._pieces, None)
            if upcoming is not None and sent == self.max_tokens:
                self.finish = "length"
                upcoming = None
            yield piece, upcoming is None
            piece = upcoming


def answer_pieces(
    model_name: str, prompt: str, max_tokens: int | None = None
) -> tuple[list[str], str]:
    """The pieces the server streams for this model and prompt, and the finish reason.

    The finish reason is ``"stop"`` or ``"length"`` (when ``max_tokens`` cut the answer).
    """
    answer = Answer(model_name, prompt, max_tokens)
    pieces = [piece for piece, _last in answer]
    return pieces, answer.finish


def expected_answer(model_name: str, prompt: str, max_tokens: int | None = None) -> str:
    """Exactly the text the simulator sends for ``model_name`` answering ``prompt``.

    ``prompt`` is the text of the last user message; ``max_tokens`` mirrors the request's cap.
    """
    return "".join(answer_pieces(model_name, prompt, max_tokens)[0])
