"""What each request cost: the price table's figure for a known model, "—" (null) when the
price is unknown, 0 for local and simulated models; in the table, the JSON, the store and
the dashboard.

A priced request needs a real model name, which the simulator does not answer to (its model
names are speed profiles), so those tests talk to a small OpenAI-wire server of their own on
loopback that reports usage like OpenAI does (written from OpenAI's documentation).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cli_helpers import modelrace
from genai_prices.data import providers as price_table
from genai_prices.types import ModelPrice
from screen import screen_lines

from providers.arena.conversation import Conversation
from providers.events import Finished, Started, TextDelta, Usage
from providers.pipeline.runner import StepResult
from providers.pricing import cost_sum, format_usd, price_usd
from providers.record import Result, Run
from tui.app import ModelRaceApp
from tui.history import PromptHistory

PROMPT = "Explain asyncio in one sentence."
ANSWER = "Asyncio runs many waits on one thread."
# What the server reports for every priced request.
INPUT_TOKENS, OUTPUT_TOKENS = 1200, 300
# The server reports usage for this model only: for the other the API "did not say".
WITH_USAGE, WITHOUT_USAGE = "gpt-4o-mini", "gpt-4o"
# Gemini reports its thinking apart; it is billed as output.
THOUGHT_TOKENS = 700
QUICK = "sim:fast,tokens=12,tps=400,ttft=0.02,jitter=0"


def table_price(provider_id: str, model_id: str, input_tokens: int, output_tokens: int) -> float:
    """The cost by the price table's own per-million rates, multiplied out here."""
    provider = next(p for p in price_table if p.id == provider_id)
    model = next(m for m in provider.models if m.id == model_id)
    assert isinstance(model.prices, ModelPrice), "a flat price, not a conditional one"
    rates = model.prices
    assert rates.input_mtok is not None and rates.output_mtok is not None
    assert isinstance(rates.input_mtok, Decimal) and isinstance(rates.output_mtok, Decimal)
    million = Decimal(1_000_000)
    total = input_tokens * rates.input_mtok / million + output_tokens * rates.output_mtok / million
    return float(total)


# --- the price of one request --------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "provider_id", "model_id"),
    [
        ("openai:gpt-4o-mini", "openai", "gpt-4o-mini"),
        ("anthropic:claude-haiku-4-5", "anthropic", "claude-haiku-4-5"),
        ("gemini:gemini-2.5-flash", "google", "gemini-2.5-flash"),
    ],
)
def test_a_known_usage_of_a_known_model_costs_what_the_price_table_says(
    spec: str, provider_id: str, model_id: str
):
    expected = table_price(provider_id, model_id, 1000, 500)

    assert price_usd(spec, 1000, 500) == pytest.approx(expected, rel=1e-12)
    assert expected > 0


def test_gpt_4o_mini_at_its_published_price():
    # $0.15 per million input tokens and $0.60 per million output tokens (OpenAI's pricing).
    assert price_usd("openai:gpt-4o-mini", 1000, 500) == pytest.approx(0.00045)
    assert format_usd(price_usd("openai:gpt-4o-mini", 1000, 500)) == "$0.00045"


@pytest.mark.parametrize(
    ("spec", "input_tokens", "output_tokens"),
    [
        ("openai:no-such-model-anywhere", 10, 10),  # the table does not know the model
        ("openai:fast", 10, 10),  # a simulator profile behind the OpenAI SDK
        ("myvllm:llama-3.1-8b", 10, 10),  # a named OpenAI-compatible endpoint
        ("openai:gpt-4o-mini", None, 10),  # the API did not report input tokens
        ("anthropic:claude-haiku-4-5", 10, None),  # nor output tokens: no guess from text
        ("ollama:gpt-oss:120b-cloud", 10, 10),  # Ollama's cloud, not this machine
    ],
)
def test_an_unknown_price_is_none_and_shown_as_a_dash(
    spec: str, input_tokens: int | None, output_tokens: int | None
):
    assert price_usd(spec, input_tokens, output_tokens) is None
    assert format_usd(None) == "—"


@pytest.mark.parametrize(
    "spec", ["sim:fast", "local:smollm2", "ollama:qwen3:8b", "replay:3:sim:fast"]
)
def test_local_and_simulated_models_cost_exactly_nothing(spec: str):
    assert price_usd(spec, 1000, 500) == 0.0
    assert price_usd(spec, None, None) == 0.0
    assert format_usd(0.0) == "$0"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.000123, "$0.000123"),
        (0.0153, "$0.0153"),
        (0.45, "$0.45"),
        (1.234, "$1.23"),
        (1234.5, "$1,234.50"),
        (0.0000000012, "$0.0000000012"),
    ],
)
def test_costs_are_written_with_their_significant_digits(value: float, shown: str):
    assert format_usd(value) == shown


def finished(spec: str, usage: tuple[int | None, int | None] | None) -> Result:
    result = Result(spec)
    result.apply(Started(1.0))
    result.apply(TextDelta(1.1, "an answer"))
    if usage is not None:
        result.apply(Usage(1.2, *usage))
    result.apply(Finished(1.3))
    return result


def test_a_sum_is_the_cost_only_when_every_price_is_known():
    priced = finished("openai:gpt-4o-mini", (1000, 500))
    free = finished("sim:fast", None)
    unpriced = finished("openai:gpt-4o-mini", None)
    never_sent = Result("openai:gpt-4o-mini")
    never_sent.skip("its input failed")

    whole = cost_sum([priced, free, never_sent])
    partial = cost_sum([priced, unpriced, free])
    nothing = cost_sum([unpriced])

    assert whole.total_usd == pytest.approx(0.00045) and whole.text() == "$0.00045"
    assert partial.total_usd is None and partial.to_json() is None
    assert partial.text() == "≥ $0.00045 (1 of 3 unpriced)"
    assert nothing.text() == "—"


def test_a_conversations_total_adds_its_turns_and_stays_a_bound_once_one_is_unknown():
    talk = Conversation()
    talk.add("one?", [Run("async", [finished("openai:gpt-4o-mini", (1000, 500))], True)])
    talk.add("two?", [Run("async", [finished("openai:gpt-4o-mini", (2000, 1000))], True)])
    assert talk.cost.total_usd == pytest.approx(0.00045 + 0.0009)
    assert talk.cost.text() == "$0.00135"

    talk.add("three?", [Run("async", [finished("openai:gpt-4o-mini", None)], True)])
    assert talk.cost.to_json() is None
    assert talk.cost.text() == "≥ $0.00135 (1 of 3 unpriced)"


def test_a_pipeline_step_that_asks_no_model_costs_nothing():
    wait = StepResult("wait 2s", step="retrieve", kind="wait")
    wait.finish_with("")
    get = StepResult("GET http://127.0.0.1:9/x", step="fetch", kind="get")
    get.finish_with("page")
    llm = StepResult("openai:gpt-4o-mini", step="draft")
    for event in (Started(1.0), TextDelta(1.1, "x"), Usage(1.2, 1000, 500), Finished(1.3)):
        llm.apply(event)

    assert cost_sum([wait, get, llm]).text() == "$0.00045"


# --- a priced server on loopback ----------------------------------------------------------


class _OpenAIWire(BaseHTTPRequestHandler):
    """Chat completions, streamed as OpenAI streams them, with the usage chunk OpenAI sends
    when `stream_options.include_usage` is set."""

    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
        if ":streamGenerateContent" in self.path:
            self._gemini()
            return
        model = body["model"]
        wants_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        base = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": model}
        chunks = [
            {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None},
            {"index": 0, "delta": {"content": ANSWER}, "finish_reason": None},
            {"index": 0, "delta": {}, "finish_reason": "stop"},
        ]
        for choice in chunks:
            self._event({**base, "choices": [choice]})
        if wants_usage and model == WITH_USAGE:
            usage = {
                "prompt_tokens": INPUT_TOKENS,
                "completion_tokens": OUTPUT_TOKENS,
                "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS,
            }
            self._event({**base, "choices": [], "usage": usage})
        self.wfile.write(b"data: [DONE]\n\n")

    def _gemini(self) -> None:
        """Gemini's stream, whose usage counts thinking apart from the answer's tokens."""
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        usage = {
            "promptTokenCount": INPUT_TOKENS,
            "candidatesTokenCount": OUTPUT_TOKENS,
            "thoughtsTokenCount": THOUGHT_TOKENS,
            "totalTokenCount": INPUT_TOKENS + OUTPUT_TOKENS + THOUGHT_TOKENS,
        }
        parts = {"content": {"role": "model", "parts": [{"text": ANSWER}]}, "index": 0}
        self._event({"candidates": [{**parts, "finishReason": "STOP"}], "usageMetadata": usage})

    def _event(self, data: dict[str, object]) -> None:
        self.wfile.write(f"data: {json.dumps(data)}\n\n".encode())
        self.wfile.flush()


@pytest.fixture
def priced(sim_env: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """`openai:` and `gemini:` models served by the loopback server, the rest by the
    simulator."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OpenAIWire)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setenv("OPENAI_BASE_URL", url + "/v1")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", url)
    try:
        yield sim_env
    finally:
        server.shutdown()
        server.server_close()


EXPECTED = table_price("openai", WITH_USAGE, INPUT_TOKENS, OUTPUT_TOKENS)


def test_run_json_prices_what_the_api_reported_and_null_what_it_did_not(
    priced: str, tmp_path: Path
):
    models = ("-m", f"openai:{WITH_USAGE}", "-m", QUICK)
    out = modelrace("run", PROMPT, *models, "--mode", "async", "--json", sim=priced)
    without = modelrace(
        "run", PROMPT, *models, "-m", f"openai:{WITHOUT_USAGE}", "--mode", "async", sim=priced
    )

    assert out.returncode == 0, out.stderr
    (run,) = json.loads(out.stdout)["runs"]
    costs = {r["model"]: r["cost_usd"] for r in run["results"]}
    assert costs == {f"openai:{WITH_USAGE}": pytest.approx(EXPECTED), QUICK: 0}
    assert run["cost_usd"] == pytest.approx(EXPECTED)
    assert EXPECTED > 0
    # The text table: the unreported one is a dash, and the run's sum says it is a bound.
    assert without.returncode == 0, without.stderr
    lines = without.stdout.splitlines()
    row = next(line for line in lines if line.startswith(f"  openai:{WITHOUT_USAGE} "))
    assert row.split()[-1] == "—"
    assert f"cost ≥ {format_usd(EXPECTED)} (1 of 3 unpriced)" in without.stdout


def test_gemini_thinking_is_priced_as_output(priced: str):
    out = modelrace(
        "run", PROMPT, "-m", "gemini:gemini-2.5-flash", "--mode", "async", "--json", sim=priced
    )

    assert out.returncode == 0, out.stderr
    (result,) = json.loads(out.stdout)["runs"][0]["results"]
    thinking = OUTPUT_TOKENS + THOUGHT_TOKENS
    assert result["output_tokens"] == thinking
    assert result["cost_usd"] == pytest.approx(
        table_price("google", "gemini-2.5-flash", INPUT_TOKENS, thinking)
    )


def test_show_json_prices_a_stored_race_from_its_stored_tokens(priced: str):
    models = ("-m", f"openai:{WITH_USAGE}", "-m", f"openai:{WITHOUT_USAGE}")
    ran = modelrace("run", PROMPT, *models, "--mode", "async", "--json", sim=priced)
    shown = modelrace("show", "1", "--json", sim=priced)

    assert shown.returncode == 0, shown.stderr
    (run,) = json.loads(shown.stdout)["runs"]
    costs = [r["cost_usd"] for r in run["results"]]
    assert costs == [pytest.approx(EXPECTED), None] and run["cost_usd"] is None
    assert json.loads(shown.stdout) == {"id": 1, **json.loads(ran.stdout)}


def test_run_against_the_simulator_costs_nothing_and_a_profile_behind_openai_is_unknown(
    sim_env: str,
):
    models = ("-m", QUICK, "-m", "openai:fast,tokens=12,tps=400,ttft=0.02,jitter=0")
    out = modelrace("run", PROMPT, *models, "--json", sim=sim_env)
    table = modelrace("run", PROMPT, *models, "--mode", "async", sim=sim_env)

    assert out.returncode == 0, out.stderr
    runs = json.loads(out.stdout)["runs"]
    assert [r["mode"] for r in runs] == ["sync", "async"]
    for run in runs:
        assert [r["cost_usd"] for r in run["results"]] == [0, None]
        assert run["cost_usd"] is None
    assert table.returncode == 0, table.stderr
    rows = [line.split() for line in table.stdout.splitlines() if line.startswith("  sim:fast")]
    assert rows and rows[0][-1] == "$0"
    assert "cost ≥ $0 (1 of 2 unpriced)" in table.stdout


# --- the dashboard ------------------------------------------------------------------------


async def test_the_panel_status_line_and_the_status_bar_show_the_cost(priced: str, tmp_path: Path):
    specs = [f"openai:{WITH_USAGE}", QUICK]
    app = ModelRaceApp(specs, history=PromptHistory(tmp_path / "history"), mode="async")
    async with app.run_test(size=(160, 30)) as pilot:
        app.prompt_box.load_text(PROMPT)
        await pilot.press("enter")
        for _ in range(200):
            await pilot.pause(0.05)
            lines = screen_lines(app)
            bar = next((line for line in lines if "mode async" in line), "")
            if not app.racing and "cost" in bar:
                break

    price = f"cost {format_usd(EXPECTED)}"
    panel_status = [line for line in lines if "✓ done" in line]
    assert any(price in line for line in panel_status), "\n".join(lines)
    assert any("cost $0" in line.replace(price, "") for line in panel_status), "\n".join(lines)
    assert price in bar, "\n".join(lines)


# --- a conversation's total ---------------------------------------------------------------


def test_a_follow_up_reports_the_conversation_total_in_its_json_and_text(priced: str):
    models = ("-m", f"openai:{WITH_USAGE}", "-m", QUICK, "--mode", "async")
    first = modelrace("run", PROMPT, *models, "--json", sim=priced)
    second = modelrace("run", "--continue", "1", "And why?", *models, "--json", sim=priced)
    shown = modelrace("show", "2", sim=priced)
    shown_json = modelrace("show", "2", "--json", sim=priced)
    unpriced = modelrace(
        "run",
        "--continue",
        "2",
        "Once more.",
        "-m",
        f"openai:{WITHOUT_USAGE}",
        "--mode",
        "async",
        sim=priced,
    )

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    turn_one = json.loads(first.stdout)["runs"][0]["cost_usd"]
    doc = json.loads(second.stdout)
    turn_two = doc["runs"][0]["cost_usd"]
    assert "conversation_cost_usd" not in json.loads(first.stdout)
    assert turn_one == pytest.approx(EXPECTED) and turn_two == pytest.approx(EXPECTED)
    assert doc["turn"] == 2
    assert doc["conversation_cost_usd"] == pytest.approx(turn_one + turn_two)
    # `show` of the follow-up prices its stored turns from their stored tokens alike.
    assert json.loads(shown_json.stdout) == {"id": 2, **doc}
    assert shown.returncode == 0, shown.stderr
    head = shown.stdout.splitlines()[0]
    assert f"turn 2 (follows race 1) · chat cost {format_usd(2 * EXPECTED)}" in head
    # A turn whose price is unknown: the total is a bound, labelled as one, and null in JSON.
    assert unpriced.returncode == 0, unpriced.stderr
    bound = f"chat cost ≥ {format_usd(2 * EXPECTED)} (1 of 5 unpriced)"
    assert bound in unpriced.stdout.splitlines()[0]
    again = modelrace("show", "3", "--json", sim=priced)
    assert json.loads(again.stdout)["conversation_cost_usd"] is None


async def test_the_status_bar_shows_the_chat_total_from_the_second_turn(
    priced: str, tmp_path: Path
):
    specs = [f"openai:{WITH_USAGE}", QUICK]
    app = ModelRaceApp(specs, history=PromptHistory(tmp_path / "history"), mode="async")
    bars = []
    async with app.run_test(size=(200, 30)) as pilot:
        for prompt in (PROMPT, "And why?"):
            before = app.race
            app.prompt_box.load_text(prompt)
            await pilot.press("enter")
            for _ in range(200):
                await pilot.pause(0.05)
                lines = screen_lines(app)
                bar = next((line for line in lines if "mode async" in line), "")
                if app.race is not before and not app.racing and "cost" in bar:
                    break
            bars.append(bar)

    one = format_usd(EXPECTED)
    assert f"cost {one}" in bars[0] and "· chat" not in bars[0], bars[0]
    assert f"cost {one} · chat {format_usd(2 * EXPECTED)}" in bars[1], bars[1]
