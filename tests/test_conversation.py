"""Follow-up turns: each model is sent its own earlier answers, in its API's own shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import modelrace

from providers import Request, make_adapter
from providers.arena.conversation import Conversation
from providers.race import Race, parse_mode
from providers.record import Result
from providers.sim import SimError
from providers.sim.profiles import profile_for
from providers.store.races import conversation

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


# --- headless: `modelrace run --continue ID` --------------------------------------------------

ECHOES = ("-m", f"sim:{ECHO}", "-m", f"anthropic:{ECHO}")


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "store" / "modelrace.db"
    monkeypatch.setenv("MODELRACE_DB", str(path))
    return path


def _texts(doc: dict[str, Any]) -> dict[str, str]:
    return {r["model"]: r["text"] for r in doc["runs"][-1]["results"]}


def test_run_continue_is_the_next_turn_of_a_stored_race(sim_env: str, db: Path):
    first = modelrace("run", "One?", *ECHOES, "--mode", "async", "--json", sim=sim_env)
    assert first.returncode == 0, first.stderr
    answers = _texts(json.loads(first.stdout))

    ran = modelrace("run", "--continue", "1", "Two?", "--mode", "async", "--json", sim=sim_env)

    assert ran.returncode == 0, ran.stderr
    doc = json.loads(ran.stdout)
    assert (doc["turn"], doc["parent_id"]) == (2, 1)
    for spec, text in _texts(doc).items():
        sent = json.loads(text)["messages"]
        assert [m for m in sent if m[0] != "user"] == [["assistant", answers[spec]]]
    assert json.loads(modelrace("show", "2", "--json", sim=sim_env).stdout) == {"id": 2, **doc}
    shown = modelrace("show", "2", sim=sim_env).stdout
    assert "turn 2 (follows race 1)" in shown.splitlines()[0]


def test_run_continue_with_m_adds_a_model_that_starts_fresh(sim_env: str, db: Path):
    assert modelrace("run", "One?", "-m", f"sim:{ECHO}", sim=sim_env).returncode == 0
    newcomer = f"ollama:{ECHO}"

    ran = modelrace(
        "run",
        "--continue",
        "1",
        "Two?",
        "-m",
        f"sim:{ECHO}",
        "-m",
        newcomer,
        "--json",
        sim=sim_env,
    )

    assert ran.returncode == 0, ran.stderr
    assert f"{newcomer} joins at turn 2, with no earlier turns" in ran.stderr
    texts = _texts(json.loads(ran.stdout))
    assert json.loads(texts[newcomer])["messages"] == [["user", "Two?"]]
    assert len(json.loads(texts[f"sim:{ECHO}"])["messages"]) == 3


def test_run_continue_refuses_unknown_ids_and_pipelines(sim_env: str, db: Path, tmp_path: Path):
    pipe = tmp_path / "p.toml"
    pipe.write_text('name = "tiny"\ninput = "q"\n[steps.plan]\nwait = 0.01\noutput = "x"\n')
    assert modelrace("pipeline", str(pipe), sim=sim_env).returncode == 0

    for race_id, says in (("7", "no stored race has id 7"), ("1", "1 is a pipeline pass")):
        out = modelrace("run", "--continue", race_id, "Two?", sim=sim_env)
        assert out.returncode == 2, out.stderr
        assert out.stderr.count("\n") == 1 and says in out.stderr, out.stderr
        assert out.stdout == ""


def test_run_continue_past_a_models_context_fails_it_alone(sim_env: str, db: Path):
    tight = "sim:fast,ttft=0,tps=5000,tokens=40,context=30"
    assert modelrace("run", "Hi?", "-m", f"sim:{ECHO}", "-m", tight, sim=sim_env).returncode == 0

    ran = modelrace("run", "--continue", "1", "More?", "--mode", "async", "--json", sim=sim_env)

    assert ran.returncode == 1
    results = json.loads(ran.stdout)["runs"][0]["results"]
    assert [r["ok"] for r in results] == [True, False]
    assert "maximum context length is 30 tokens" in results[1]["error"]


def test_the_store_walks_a_conversation_and_stops_at_a_deleted_turn(sim_env: str, db: Path):
    assert modelrace("run", "One?", "-m", f"sim:{ECHO}", sim=sim_env).returncode == 0
    for n, prompt in ((1, "Two?"), (2, "Three?")):
        assert modelrace("run", "--continue", str(n), prompt, sim=sim_env).returncode == 0

    assert [(r.prompt, r.turn) for r in conversation(3)] == [
        ("One?", 1),
        ("Two?", 2),
        ("Three?", 3),
    ]
    assert modelrace("delete", "2", sim=sim_env).returncode == 0
    assert [(r.prompt, r.turn) for r in conversation(3)] == [("Three?", 3)]
