"""The simulator's legacy completions route (what benchmark clients speak) and its answer to a
route it does not have, through the real OpenAI SDK and raw HTTP over loopback."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import openai
import pytest

from providers.sim import expected_answer

MODEL = "fast,ttft=0.01,tps=2000,tokens=12,jitter=0"
PROMPT = "Explain asyncio in one sentence."


@pytest.fixture
def client(sim_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=sim_url + "/v1", api_key="x", max_retries=0)


def test_completions_stream_through_the_openai_sdk(client: openai.OpenAI):
    stream = client.completions.create(
        model=MODEL, prompt=PROMPT, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)

    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text == expected_answer(MODEL, PROMPT)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 12
    assert all(c.usage is None for c in chunks[:-1])


def test_completions_without_usage_send_no_usage_chunk(client: openai.OpenAI):
    chunks = list(client.completions.create(model=MODEL, prompt=PROMPT, stream=True))

    assert all(c.choices and c.usage is None for c in chunks)
    assert "".join(c.choices[0].text for c in chunks) == expected_answer(MODEL, PROMPT)


async def test_completions_async_with_a_list_prompt_and_a_cap(sim_url: str):
    async with openai.AsyncOpenAI(base_url=sim_url + "/v1", api_key="x") as aclient:
        stream = await aclient.completions.create(
            model=MODEL, prompt=[PROMPT], max_tokens=5, stream=True
        )
        chunks = [c async for c in stream]

    assert "".join(c.choices[0].text for c in chunks) == expected_answer(MODEL, PROMPT, 5)
    assert chunks[-1].choices[0].finish_reason == "length"


def test_completions_whole_body(client: openai.OpenAI):
    done = client.completions.create(model=MODEL, prompt=PROMPT, max_tokens=4)

    assert done.object == "text_completion"
    assert done.choices[0].text == expected_answer(MODEL, PROMPT, 4)
    assert done.choices[0].finish_reason == "length"
    assert done.usage is not None and done.usage.completion_tokens == 4


def test_completions_refuse_several_prompts_with_a_reason(client: openai.OpenAI):
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model=MODEL, prompt=["one", "two"])
    assert "'prompt' must be a string" in str(caught.value)


def _status_and_body(url: str, method: str) -> tuple[int, str]:
    data = b"{}" if method == "POST" else None
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("path", ["/v1/nothing", "/v2/chat/completions", "/api/generate"])
def test_an_unknown_route_is_404_saying_so(sim_url: str, method: str, path: str):
    status, body = _status_and_body(sim_url + path, method)

    assert status == 404
    assert f"unknown route: {method} {path}" in body
    assert "model_not_found" not in body


def test_an_unknown_route_through_the_sdk_is_not_a_missing_model(sim_url: str):
    wrong = openai.OpenAI(base_url=sim_url + "/v9", api_key="x", max_retries=0)
    with pytest.raises(openai.NotFoundError) as caught:
        wrong.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}])
    assert caught.value.code == "unknown_route"
    assert json.dumps(caught.value.body).count("unknown route") == 1


def test_an_unknown_model_is_still_model_not_found(client: openai.OpenAI):
    with pytest.raises(openai.NotFoundError) as caught:
        client.completions.create(model="nosuchprofile", prompt=PROMPT)
    assert caught.value.code == "model_not_found"
