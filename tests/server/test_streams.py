"""Streams relayed as they come: nothing buffered before the first byte, nothing stored when the
caller leaves or the upstream breaks off."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from binary_semantic_cache.embeddings import DefaultEmbedder
from binary_semantic_cache.server.app import ServerConfig
from binary_semantic_cache.server.fake_upstream import FakeUpstream
from binary_semantic_cache.server.sse import StreamRecord
from tests.redis.server import wait_until

from .harness import RunningServer
from .test_chat import MODEL, WRITES, _metric, ask


@pytest.fixture
def holding(embedder: DefaultEmbedder) -> Iterator[tuple[FakeUpstream, RunningServer]]:
    """An upstream whose streams stop after three chunks until released, and its server."""
    upstream = FakeUpstream()
    upstream.hold_after = 3
    server = RunningServer(ServerConfig(upstream=upstream.url), embedder)
    yield upstream, server
    server.stop()
    upstream.close()


def stream_body(question: str) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": question}], "stream": True}


def test_a_miss_is_relayed_before_the_upstream_finishes(
    holding: tuple[FakeUpstream, RunningServer], key: Callable[[], str]
) -> None:
    upstream, server = holding
    headers = {"authorization": f"Bearer {key()}"}
    url = f"{server.url}/v1/chat/completions"
    with httpx.stream("POST", url, json=stream_body("Hi"), headers=headers, timeout=10) as reply:
        lines = reply.iter_lines()
        events = [line for line in (next(lines) for _ in range(6)) if line]
        # The upstream holds the rest: these three came through while it was still going.
        assert len(events) == 3 and not upstream.release.is_set()
        upstream.release.set()
        rest = [line for line in lines if line]
    assert rest[-1] == "data: [DONE]"


def test_a_caller_gone_mid_stream_stores_nothing_and_the_server_goes_on(
    holding: tuple[FakeUpstream, RunningServer], key: Callable[[], str]
) -> None:
    upstream, server = holding
    api_key = key()
    headers = {"authorization": f"Bearer {api_key}"}
    url = f"{server.url}/v1/chat/completions"
    with httpx.stream("POST", url, json=stream_body("Hi"), headers=headers, timeout=10) as reply:
        assert next(reply.iter_lines()).startswith("data: ")
    # The caller hung up; now the upstream finishes its answer.
    upstream.release.set()
    time.sleep(0.5)
    metrics = httpx.get(f"{server.url}/metrics").text
    assert _metric(metrics, WRITES) == 0
    calls = len(upstream.chat_calls())
    client = server.client(api_key)
    chunks = list(client.chat.completions.create(**stream_body("Hi")))
    assert len(chunks) > 3
    assert len(upstream.chat_calls()) == calls + 1  # not served from the cache
    # Completed this time, so stored (once the response is over: the caller may be quicker).
    wait_until(
        lambda: _metric(httpx.get(f"{server.url}/metrics").text, WRITES) == 1, what="the write"
    )
    _, served = ask(client, "Hi")
    assert served["x-bsc-cache"] == "hit"


def test_only_a_complete_stream_is_recorded_as_complete() -> None:
    def record(*data: str) -> StreamRecord:
        recorded = StreamRecord()
        for item in data:
            recorded.add(item)
        return recorded

    start = '{"choices": [{"index": 0, "delta": {"content": "a"}, "finish_reason": null}]}'
    end = '{"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}'
    usage = '{"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}}'
    assert record(start, end, usage, "[DONE]").complete
    assert record(start, end, usage, "[DONE]").usage == {"prompt_tokens": 1, "completion_tokens": 1}
    assert len(record(start, end, usage, "[DONE]").chunks) == 2
    assert not record(start, end).complete  # no [DONE]: cut off
    assert not record(start, "[DONE]").complete  # no finish reason
    assert not record(start, '{"error": {"message": "overloaded"}}', end, "[DONE]").complete
    assert not record(start, "not json", end, "[DONE]").complete
