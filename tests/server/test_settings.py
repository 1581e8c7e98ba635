"""The server's settings and failure paths: body limit, exact-only, tenant header, a failing
cache, an unreachable upstream, and the embeddings route."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from binary_semantic_cache.server.app import ServerConfig
from binary_semantic_cache.server.fake_upstream import FakeUpstream
from tests.doubles import BrokenEmbedder
from tests.redis.server import free_port

from .harness import RunningServer
from .test_chat import PARAPHRASE, QUESTION, _metric, ask, content


def test_a_body_over_the_limit_is_refused_with_413(
    start_server: Callable[..., RunningServer], upstream: FakeUpstream, key: Callable[[], str]
) -> None:
    server = start_server(max_body_bytes=2_000)
    calls = len(upstream.calls)
    with pytest.raises(openai.APIStatusError) as raised:
        ask(server.client(key()), "x" * 3_000)
    assert raised.value.status_code == 413
    assert "at most 2000 bytes" in raised.value.message
    # Without a Content-Length (chunked), the limit holds as the body is read.
    chunked = httpx.post(
        f"{server.url}/v1/chat/completions", content=iter([b"{" + b" " * 2_500 + b"}"])
    )
    assert chunked.status_code == 413
    assert len(upstream.calls) == calls
    answer, _ = ask(server.client(key()), "a short one")
    assert content(answer).startswith("Answer ")


def test_exact_only_serves_repeats_never_paraphrases(
    start_server: Callable[..., RunningServer], key: Callable[[], str]
) -> None:
    client = start_server(exact_only=True).client(key())
    ask(client, QUESTION)
    _, repeat = ask(client, QUESTION)
    _, paraphrase = ask(client, PARAPHRASE)
    assert (repeat["x-bsc-cache"], repeat["x-bsc-cache-tier"]) == ("hit", "exact")
    assert paraphrase["x-bsc-cache"] == "miss"


def test_a_tenant_header_decides_the_tenant_instead_of_the_key(
    start_server: Callable[..., RunningServer], key: Callable[[], str]
) -> None:
    server = start_server(tenant_header="X-Team")
    ask(server.client(key()), QUESTION, extra_headers={"X-Team": "search"})
    _, same_team = ask(server.client(key()), QUESTION, extra_headers={"X-Team": "search"})
    _, other_team = ask(server.client(key()), QUESTION, extra_headers={"X-Team": "ads"})
    assert same_team["x-bsc-cache"] == "hit"
    assert other_team["x-bsc-cache"] == "miss"
    with pytest.raises(openai.BadRequestError) as raised:
        ask(server.client(key()), QUESTION)
    assert "expected a x-team header" in raised.value.message


def test_a_failing_cache_never_fails_a_request(
    upstream: FakeUpstream, key: Callable[[], str]
) -> None:
    server = RunningServer(ServerConfig(upstream=upstream.url), BrokenEmbedder())
    try:
        client = server.client(key())
        calls = len(upstream.chat_calls())
        for question in (QUESTION, QUESTION, PARAPHRASE):
            answer, headers = ask(client, question)
            assert content(answer).startswith("Answer ")
            assert headers["x-bsc-cache"] == "miss"
        # Each answer's write needed the embedding, failed, and was counted.
        assert len(upstream.chat_calls()) == calls + 3
        metrics = httpx.get(f"{server.url}/metrics").text
        assert _metric(metrics, 'bsc_cache_skipped_writes_total{cache="chat"}') == 3
        assert _metric(metrics, 'bsc_cache_errors_total{cache="chat"}') == 3
    finally:
        server.stop()


def test_an_unreachable_upstream_is_a_502_in_openai_shape(
    embedder: Any, key: Callable[[], str]
) -> None:
    server = RunningServer(ServerConfig(upstream=f"http://127.0.0.1:{free_port()}/v1"), embedder)
    try:
        with pytest.raises(openai.APIStatusError) as raised:
            ask(server.client(key()), QUESTION)
        assert raised.value.status_code == 502
        assert "expected to reach http://127.0.0.1" in raised.value.message
    finally:
        server.stop()


def test_the_config_says_what_it_expected() -> None:
    with pytest.raises(ValueError, match="need one tenant_secret"):
        ServerConfig(upstream="http://127.0.0.1:1/v1", redis_url="redis://127.0.0.1:1")
    with pytest.raises(ValueError, match="http:// or https://"):
        ServerConfig(upstream="127.0.0.1:1")


# The SDK asks for base64 unless told otherwise, and decodes it.
@pytest.mark.parametrize("encoding", [{"encoding_format": "float"}, {}], ids=["float", "base64"])
def test_embeddings_are_cached_per_text_and_the_missing_ones_sent_in_one_batch(
    server: RunningServer, upstream: FakeUpstream, key: Callable[[], str], encoding: dict[str, Any]
) -> None:
    client = server.client(key())
    first = client.embeddings.create(model="embed", input=["alpha", "beta"], **encoding)
    calls = len(upstream.calls)
    raw = client.embeddings.with_raw_response.create(
        model="embed", input=["beta", "gamma", "alpha"], **encoding
    )
    second = raw.parse()
    assert raw.headers["x-bsc-cache-hits"] == "2/3"
    assert len(upstream.calls) == calls + 1
    assert upstream.calls[-1].body["input"] == ["gamma"]
    assert [d.index for d in second.data] == [0, 1, 2]
    assert second.data[0].embedding == first.data[1].embedding
    assert second.data[2].embedding == first.data[0].embedding
    assert len(second.data[1].embedding) == upstream.dim
    again = client.embeddings.with_raw_response.create(model="embed", input="gamma", **encoding)
    assert again.headers["x-bsc-cache"] == "hit"
    assert again.parse().data[0].embedding == second.data[1].embedding
    assert len(upstream.calls) == calls + 1
    # Another model's or another tenant's embedding of the same text is its own.
    client.embeddings.create(model="embed-2", input="gamma", **encoding)
    server.client(key()).embeddings.create(model="embed", input="gamma", **encoding)
    assert len(upstream.calls) == calls + 3
    assert upstream.calls[-1].body.get("encoding_format", "base64") == encoding.get(
        "encoding_format", "base64"
    )
