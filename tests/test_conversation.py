"""Follow-up turns: each model is sent its own earlier answers, in its API's own shape."""

from __future__ import annotations

import json
from typing import Any

import pytest

from providers import Request, make_adapter
from providers.arena.conversation import Conversation
from providers.race import Race, parse_mode
from providers.record import Result
from providers.sim import SimError
from providers.sim.profiles import profile_for

# `echo=1`: the simulator answers with the messages it received, as JSON.
ECHO = "fast,echo=1,ttft=0,tps=5000,jitter=0"
WIRES = ["openai", "anthropic", "gemini", "ollama"]
ASSISTANT = {"openai": "assistant", "anthropic": "assistant", "ollama": "assistant"}
ASSISTANT["gemini"] = "model"


async def race_turn(
    specs: list[str], prompt: str, conversation: Conversation, mode: str = "async", **kw: Any
) -> Race:
    adapters = [make_adapter(spec) for spec in specs]
    race = Race(adapters, Request(prompt, **kw), parse_mode(mode), conversation.follow_up(specs))
    await race.run()
    conversation.add(prompt, race.runs)
    return race


def received(result: Result) -> dict[str, Any]:
    assert result.ok, result.error
    return json.loads(result.text)


@pytest.mark.parametrize("mode", ["async", "sync"])
async def test_each_model_gets_exactly_its_own_first_answer(sim_env: str, mode: str):
    specs = [f"{wire}:{ECHO}" for wire in WIRES]
    conversation = Conversation()
    first = await race_turn(specs, "Name a colour.", conversation, mode, system="Be brief.")
    answers = {r.source: r.text for r in first.runs[-1].results}
    # Each first answer names its own API, so no two models share one.
    assert len(set(answers.values())) == len(WIRES)

    second = await race_turn(specs, "Why that one?", conversation, mode, system="Be brief.")

    for wire, result in zip(WIRES, second.runs[-1].results, strict=True):
        got = received(result)
        spec = f"{wire}:{ECHO}"
        turns = [["user", "Name a colour."], [ASSISTANT[wire], answers[spec]]]
        turns.append(["user", "Why that one?"])
        if wire in ("openai", "ollama"):
            assert got["messages"] == [["system", "Be brief."], *turns]
        else:  # Anthropic and Gemini take the system prompt apart from the messages
            assert got["messages"] == turns
            assert got["system"] == "Be brief."
    assert second.follow_up.turn == 2


async def test_a_failed_turn_is_left_out_of_that_models_history(sim_env: str):
    # `context=8`: the long first prompt is refused, the short second one fits.
    good, bad = f"openai:{ECHO}", f"openai:{ECHO},context=8"
    long_prompt = "Say something about each of these: " + "word " * 20
    conversation = Conversation()
    first = await race_turn([good, bad], long_prompt, conversation)
    assert [r.ok for r in first.runs[0].results] == [True, False]

    second = await race_turn([good, bad], "Two?", conversation)

    good_got, bad_got = (received(r) for r in second.runs[0].results)
    assert [role for role, _ in good_got["messages"]] == ["user", "assistant", "user"]
    # No answer is made up for the turn that failed: the model starts again from this one.
    assert bad_got["messages"] == [["user", "Two?"]]


async def test_a_model_added_later_starts_from_its_first_turn(sim_env: str):
    first_model, newcomer = f"openai:{ECHO}", f"anthropic:{ECHO}"
    conversation = Conversation()
    await race_turn([first_model], "One?", conversation)
    assert conversation.newcomers([first_model, newcomer]) == [newcomer]

    second = await race_turn([first_model, newcomer], "Two?", conversation)

    old_got, new_got = (received(r) for r in second.runs[0].results)
    assert len(old_got["messages"]) == 3
    assert new_got["messages"] == [["user", "Two?"]]


async def test_a_conversation_past_a_models_context_fails_only_that_model(sim_env: str):
    roomy = f"openai:{ECHO}"
    tight = "openai:fast,ttft=0,tps=5000,tokens=40,context=30"
    conversation = Conversation()
    first = await race_turn([roomy, tight], "Tell me something.", conversation)
    assert all(r.ok for r in first.runs[0].results)

    second = await race_turn([roomy, tight], "And more?", conversation)

    ok, failed = second.runs[0].results
    assert ok.ok
    assert not failed.ok
    assert "maximum context length is 30 tokens" in (failed.error or "")


@pytest.mark.parametrize(
    ("knob", "says"),
    [("echo=2", "echo must be 0 or 1"), ("context=0", "context must be between 1 and")],
)
def test_the_simulators_conversation_knobs_are_bounded(knob: str, says: str):
    with pytest.raises(SimError, match=says):
        profile_for(f"fast,{knob}")
