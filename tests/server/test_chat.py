"""End to end: the openai SDK as the client, the server under uvicorn, a real upstream on 127.0.0.1.

Every test keeps to its own tenants (fresh API keys), so they share one server and one upstream.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest

from binary_semantic_cache.server.fake_upstream import FakeUpstream, Scripted
from tests.redis.server import wait_until

from .harness import RunningServer

MODEL = "gpt-test"
WRITES = 'bsc_cache_writes_total{cache="chat"}'
QUESTION = "What is the capital of France?"
PARAPHRASE = "What's the capital city of France?"
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Search the web",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
        },
    }
]


def ask(
    client: openai.OpenAI, question: str, *, system: str | None = None, **extra: Any
) -> tuple[Any, dict[str, str]]:
    """(the parsed completion, the response headers) of one non-streamed call."""
    messages: list[Any] = [] if system is None else [{"role": "system", "content": system}]
    messages.append({"role": "user", "content": question})
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=messages, **extra)
    return raw.parse(), dict(raw.headers)


def content(completion: Any) -> str:
    text: str = completion.choices[0].message.content
    return text


def test_a_repeat_and_a_paraphrase_are_served_without_an_upstream_call(
    server: RunningServer, upstream: FakeUpstream, key: Callable[[], str]
) -> None:
    client = server.client(key())
    first, headers = ask(client, QUESTION)
    assert headers["x-bsc-cache"] == "miss"
    calls = len(upstream.chat_calls())
    repeat, repeat_headers = ask(client, QUESTION)
    paraphrase, paraphrase_headers = ask(client, PARAPHRASE)
    assert len(upstream.chat_calls()) == calls
    assert content(repeat) == content(paraphrase) == content(first)
    assert (repeat_headers["x-bsc-cache"], repeat_headers["x-bsc-cache-tier"]) == ("hit", "exact")
    assert paraphrase_headers["x-bsc-cache-tier"] == "semantic"
    assert 0.8 < float(paraphrase_headers["x-bsc-cache-similarity"]) < 1.0
    # A served answer is new each time: its own id and created, never the stored ones.
    assert len({first.id, repeat.id, paraphrase.id}) == 3


def test_a_different_system_prompt_or_tool_set_is_not_served(
    server: RunningServer, upstream: FakeUpstream, key: Callable[[], str]
) -> None:
    client = server.client(key())
    ask(client, QUESTION, system="Answer in French.")
    calls = len(upstream.chat_calls())
    _, other_system = ask(client, QUESTION, system="Answer in German.")
    _, no_system = ask(client, QUESTION)
    _, with_tools = ask(client, QUESTION, system="Answer in French.", tools=TOOLS)
    other_tools = [{**TOOLS[0], "function": {**TOOLS[0]["function"], "name": "lookup"}}]
    _, changed_tools = ask(client, QUESTION, system="Answer in French.", tools=other_tools)
    _, warmer = ask(client, QUESTION, system="Answer in French.", temperature=1.5)
    for headers in (other_system, no_system, with_tools, changed_tools, warmer):
        assert headers["x-bsc-cache"] == "miss"
    assert len(upstream.chat_calls()) == calls + 5


def test_two_api_keys_never_share_an_entry(
    server: RunningServer, upstream: FakeUpstream, key: Callable[[], str]
) -> None:
    ask(server.client(key()), QUESTION)
    calls = len(upstream.chat_calls())
    _, headers = ask(server.client(key()), QUESTION)
    assert headers["x-bsc-cache"] == "miss"
    assert len(upstream.chat_calls()) == calls + 1
    # The caller's own key went upstream, as it came.
    assert upstream.chat_calls()[-1].headers["authorization"].startswith("Bearer sk-test-")


@pytest.mark.parametrize(
    "header", [{"Cache-Control": "no-store"}, {"x-bsc-cache": "skip"}], ids=["cache-control", "x"]
)
def test_no_store_neither_answers_nor_stores(
    server: RunningServer, upstream: FakeUpstream, key: Callable[[], str], header: dict[str, str]
) -> None:
    client = server.client(key())
    ask(client, QUESTION)
    calls = len(upstream.chat_calls())
    _, skipped = ask(client, QUESTION, extra_headers=header)
    assert skipped["x-bsc-cache"] == "miss"
    assert len(upstream.chat_calls()) == calls + 1
    # Not stored either: a new question asked with no-store stays unknown.
    ask(client, "How tall is the Eiffel Tower?", extra_headers=header)
    _, later = ask(client, "How tall is the Eiffel Tower?")
    assert later["x-bsc-cache"] == "miss"


@pytest.mark.parametrize(
    "header",
    [{"Cache-Control": "no-cache"}, {"x-bsc-cache": "refresh"}],
    ids=["cache-control", "x"],
)
def test_no_cache_asks_the_upstream_and_stores_its_new_answer(
    server: RunningServer, upstream: FakeUpstream, key: Callable[[], str], header: dict[str, str]
) -> None:
    client = server.client(key())
    old, _ = ask(client, QUESTION)
    fresh, refreshed = ask(client, QUESTION, extra_headers=header)
    assert refreshed["x-bsc-cache"] == "miss"
    assert content(fresh) != content(old)  # the upstream numbers its answers
    served, headers = ask(client, QUESTION)
    assert headers["x-bsc-cache"] == "hit"
    assert content(served) == content(fresh)


def sse_events(server: RunningServer, api_key: str, body: dict[str, Any]) -> list[str]:
    """The raw ``data`` of every SSE event of a streamed call."""
    with httpx.stream(
        "POST",
        f"{server.url}/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {api_key}"},
        timeout=30,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return [line[6:] for line in response.iter_lines() if line.startswith("data: ")]


@contextlib.contextmanager
def stored(server: RunningServer) -> Iterator[None]:
    """Waits at the block's end for a write: a stream is stored once its response is over, and
    the caller may ask again sooner."""
    before = _metric(httpx.get(f"{server.url}/metrics").text, WRITES)
    yield
    wait_until(
        lambda: _metric(httpx.get(f"{server.url}/metrics").text, WRITES) > before,
        what="the stream to be stored",
    )


def test_a_streamed_hit_is_replayed_as_the_recorded_events_and_parses_with_the_sdk_helper(
    server: RunningServer, upstream: FakeUpstream, key: Callable[[], str]
) -> None:
    api_key = key()
    body = {"model": MODEL, "messages": [{"role": "user", "content": QUESTION}], "stream": True}
    with stored(server):
        relayed = sse_events(server, api_key, body)
    calls = len(upstream.chat_calls())
    replayed = sse_events(server, api_key, body)
    assert len(upstream.chat_calls()) == calls
    assert len(replayed) == len(relayed) > 3 and replayed[-1] == relayed[-1] == "[DONE]"
    recorded = [json.loads(data) for data in relayed[:-1]]
    served = [json.loads(data) for data in replayed[:-1]]
    assert [c["choices"] for c in served] == [c["choices"] for c in recorded]
    assert len({c["id"] for c in served}) == 1 and served[0]["id"] != recorded[0]["id"]
    with server.client(api_key).chat.completions.stream(
        model=MODEL, messages=[{"role": "user", "content": PARAPHRASE}]
    ) as stream:
        deltas = [e.delta for e in stream if e.type == "content.delta"]
        final = stream.get_final_completion()
    assert len(upstream.chat_calls()) == calls
    assert len(deltas) > 1
    assert final.choices[0].message.content == "".join(deltas)
    assert final.choices[0].message.content.startswith("Answer ")


def test_a_stream_and_a_completion_serve_each_other(
    server: RunningServer, upstream: FakeUpstream, key: Callable[[], str]
) -> None:
    client = server.client(key())
    messages: Any = [{"role": "user", "content": QUESTION}]
    with stored(server):
        streamed = "".join(
            c.choices[0].delta.content or ""
            for c in client.chat.completions.create(model=MODEL, messages=messages, stream=True)
        )
    calls = len(upstream.chat_calls())
    merged, headers = ask(client, QUESTION)
    assert headers["x-bsc-cache"] == "hit"
    assert content(merged) == streamed
    assert merged.choices[0].finish_reason == "stop"
    plain, _ = ask(client, "Who wrote Hamlet?")
    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Who wrote Hamlet?"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert len(upstream.chat_calls()) == calls + 1
    assert len(chunks) > 3
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == content(plain)
    assert chunks[-1].choices == [] and chunks[-1].usage == plain.usage


def test_include_usage_is_replayed_only_when_asked_for(
    server: RunningServer, key: Callable[[], str]
) -> None:
    client = server.client(key())
    messages: Any = [{"role": "user", "content": QUESTION}]
    options: Any = {"include_usage": True}
    with stored(server):
        with_usage = list(
            client.chat.completions.create(
                model=MODEL, messages=messages, stream=True, stream_options=options
            )
        )
    replayed = list(
        client.chat.completions.create(
            model=MODEL, messages=messages, stream=True, stream_options=options
        )
    )
    without = list(client.chat.completions.create(model=MODEL, messages=messages, stream=True))
    assert with_usage[-1].usage is not None and with_usage[-1].usage.total_tokens > 0
    assert replayed[-1].choices == [] and replayed[-1].usage == with_usage[-1].usage
    assert all(c.choices for c in without)


def test_tool_calls_are_stored_and_served_streamed_or_not(
    server: RunningServer, upstream: FakeUpstream, key: Callable[[], str]
) -> None:
    client = server.client(key())
    first, _ = ask(client, "Find the weather in Oslo", tools=TOOLS)
    calls = len(upstream.chat_calls())
    served, headers = ask(client, "Find the weather in Oslo", tools=TOOLS)
    assert headers["x-bsc-cache"] == "hit"
    assert served.choices[0].finish_reason == "tool_calls"
    call = served.choices[0].message.tool_calls[0]
    assert call.model_dump() == first.choices[0].message.tool_calls[0].model_dump()
    assert json.loads(call.function.arguments) == {"query": "Find the weather in Oslo"}
    with client.chat.completions.stream(
        model=MODEL, messages=[{"role": "user", "content": "Find the weather in Oslo"}], tools=TOOLS
    ) as stream:
        final = stream.get_final_completion()
    assert len(upstream.chat_calls()) == calls
    streamed_call = final.choices[0].message.tool_calls[0]
    assert (streamed_call.id, streamed_call.function.name) == (call.id, "search")
    assert streamed_call.function.arguments == call.function.arguments


def test_a_json_schema_response_format_is_part_of_the_context(
    server: RunningServer, upstream: FakeUpstream, key: Callable[[], str]
) -> None:
    client = server.client(key())

    def schema(field: str) -> Any:
        properties = {field: {"type": "string"}, "call": {"type": "integer"}}
        return {
            "type": "json_schema",
            "json_schema": {
                "name": "reply",
                "schema": {"type": "object", "properties": properties},
            },
        }

    first, _ = ask(client, QUESTION, response_format=schema("answer"))
    calls = len(upstream.chat_calls())
    served, headers = ask(client, QUESTION, response_format=schema("answer"))
    assert headers["x-bsc-cache"] == "hit"
    assert json.loads(content(served)) == json.loads(content(first))
    _, other = ask(client, QUESTION, response_format=schema("reply"))
    assert other["x-bsc-cache"] == "miss"
    assert len(upstream.chat_calls()) == calls + 1


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, openai.BadRequestError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
    ],
)
def test_upstream_errors_are_passed_through_and_not_stored(
    server: RunningServer,
    upstream: FakeUpstream,
    key: Callable[[], str],
    status: int,
    error: type[openai.APIStatusError],
) -> None:
    client = server.client(key())
    body = {"error": {"message": f"upstream says {status}", "type": "test", "code": "x"}}
    upstream.then(
        Scripted(status, body, {"Retry-After": "7", "x-ratelimit-remaining-requests": "0"})
    )
    with pytest.raises(error) as raised:
        ask(client, QUESTION)
    assert raised.value.status_code == status
    assert raised.value.body == body["error"]
    assert raised.value.response.headers["retry-after"] == "7"
    assert raised.value.response.headers["x-ratelimit-remaining-requests"] == "0"
    _, headers = ask(client, QUESTION)
    assert headers["x-bsc-cache"] == "miss"


def test_retry_after_is_honoured_by_the_sdk(
    server: RunningServer, upstream: FakeUpstream, key: Callable[[], str]
) -> None:
    client = server.client(key(), max_retries=1)
    upstream.then(Scripted(429, {"error": {"message": "slow down"}}, {"Retry-After": "0.6"}))
    calls = len(upstream.chat_calls())
    start = time.monotonic()
    answer, _ = ask(client, QUESTION)
    assert time.monotonic() - start >= 0.6
    assert content(answer).startswith("Answer ")
    assert len(upstream.chat_calls()) == calls + 2


def test_a_guard_refusal_is_marked_refused(
    server: RunningServer, upstream: FakeUpstream, key: Callable[[], str]
) -> None:
    client = server.client(key())
    ask(client, "Best laptops under $500 in 2023")
    _, headers = ask(client, "Best laptops under $500 in 2024")
    assert headers["x-bsc-cache"] == "refused"
    assert headers["x-bsc-cache-refusal"] == "guard:dates"


def test_streamed_upstream_errors_are_passed_through(
    server: RunningServer, upstream: FakeUpstream, key: Callable[[], str]
) -> None:
    client = server.client(key())
    upstream.then(Scripted(429, {"error": {"message": "slow down"}}, {"Retry-After": "3"}))
    with pytest.raises(openai.RateLimitError) as raised:
        list(
            client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": QUESTION}], stream=True
            )
        )
    assert raised.value.response.headers["retry-after"] == "3"


def test_models_health_and_metrics(
    server: RunningServer, upstream: FakeUpstream, key: Callable[[], str]
) -> None:
    client = server.client(key())
    assert [m.id for m in client.models.list()] == ["fake-model"]
    assert httpx.get(f"{server.url}/healthz").json() == {
        "status": "ok",
        "upstream_circuit": "closed",
    }
    ask(client, "Where is Timbuktu?")
    ask(client, "Where is Timbuktu?")
    metrics = httpx.get(f"{server.url}/metrics").text
    hits = _metric(metrics, 'bsc_cache_hits_total{cache="chat",tier="exact"}')
    writes = _metric(metrics, 'bsc_cache_writes_total{cache="chat"}')
    ask(client, "Where is Timbuktu?")
    ask(client, "When was Timbuktu founded?")
    metrics = httpx.get(f"{server.url}/metrics").text
    assert _metric(metrics, 'bsc_cache_hits_total{cache="chat",tier="exact"}') == hits + 1
    assert _metric(metrics, 'bsc_cache_writes_total{cache="chat"}') == writes + 1
    assert "bsc_cache_stage_seconds_bucket" in metrics


def _metric(exposition: str, name: str) -> float:
    for line in exposition.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"expected {name} in the scrape, got:\n{exposition[:2000]}")


def test_the_readme_example_is_answered_from_the_cache_the_second_time(
    server: RunningServer,
    key: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.test_readme import _example

    code = _example("from openai import OpenAI").replace("http://127.0.0.1:8100", server.url)
    monkeypatch.setenv("OPENAI_API_KEY", key())
    exec(code, {})
    exec(code, {})
    first, second = capsys.readouterr().out.splitlines()
    assert first.startswith("miss Answer ")
    assert second == first.replace("miss", "hit", 1)
