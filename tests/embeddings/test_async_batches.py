"""``aembed`` sends batches concurrently, within a limit, against a real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import numpy as np
import pytest

from binary_semantic_cache.embeddings import (
    BadRequestError,
    BudgetExceededError,
    CircuitBreaker,
    OllamaEmbedder,
    OpenAIEmbedder,
    ResponseFormatError,
    RetryPolicy,
    ServiceUnavailableError,
)
from binary_semantic_cache.embeddings._remote import RemoteEmbedder
from tests.embeddings.http_server import Action, EmbeddingServer

FAST = RetryPolicy(max_retries=2, initial_backoff=0.01, max_backoff=0.02)
BACKENDS = ["openai", "ollama"]


def make(backend: str, server: EmbeddingServer, **kwargs: Any) -> RemoteEmbedder:
    kwargs.setdefault("retry", FAST)
    if backend == "ollama":
        return OllamaEmbedder("m", base_url=server.url, **kwargs)
    return OpenAIEmbedder(
        "test-model",
        api_key="sk-test",
        base_url=f"{server.url}/v1",
        token_counter=lambda text: len(text.split()),
        **kwargs,
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_batches_overlap_within_the_limit_and_keep_input_order(
    backend: str, server: EmbeddingServer
) -> None:
    # Later batches are answered sooner, so arrival order differs from input order.
    server.then(*[Action(delay=d) for d in (0.05, 0.3, 0.2, 0.1, 0.3, 0.2, 0.1)])
    texts = [f"doc {i}" for i in range(14)]
    embedder = make(backend, server, max_batch_size=2, max_concurrent_requests=3)
    vectors = asyncio.run(embedder.aembed(texts))
    assert 1 < server.max_in_flight <= 3
    np.testing.assert_allclose(vectors, server.expected(texts), atol=1e-6)
    assert server.batch_sizes() == [2] * 7
    stats = embedder.get_stats()
    assert (stats["requests"], stats["texts"], stats["tokens"]) == (7, 14, 28)
    assert stats["errors"] == {}


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_default_limit_is_four(backend: str, server: EmbeddingServer) -> None:
    server.then(*[Action(delay=0.1)] * 10)
    texts = [f"doc {i}" for i in range(10)]
    vectors = asyncio.run(make(backend, server, max_batch_size=1).aembed(texts))
    assert 1 < server.max_in_flight <= 4
    np.testing.assert_allclose(vectors, server.expected(texts), atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_embed_stays_sequential(backend: str, server: EmbeddingServer) -> None:
    server.then(*[Action(delay=0.05)] * 5)
    texts = [f"doc {i}" for i in range(5)]
    vectors = make(backend, server, max_batch_size=1, max_concurrent_requests=4).embed(texts)
    assert server.max_in_flight == 1
    np.testing.assert_allclose(vectors, server.expected(texts), atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_failing_batch_raises_and_cancels_the_others(
    backend: str, server: EmbeddingServer
) -> None:
    # t0 goes alone, then t1..t3 together: t2 is refused at once, t1 and t3 are slow.
    texts = [f"t{i}" for i in range(8)]
    for text in texts[1:]:
        server.when(text, Action(delay=1.0))
    server.when("t2", Action(status=400, body={"error": {"message": "bad input t2"}}))
    breaker = CircuitBreaker(failure_threshold=1)
    embedder = make(
        backend, server, max_batch_size=1, max_concurrent_requests=3, circuit_breaker=breaker
    )

    async def scenario() -> float:
        started = time.monotonic()
        with pytest.raises(BadRequestError, match="bad input t2"):
            await embedder.aembed(texts)
        elapsed = time.monotonic() - started
        assert asyncio.all_tasks() == {asyncio.current_task()}
        await asyncio.sleep(1.5)  # past the slow answers, after which t4.. would be sent
        return elapsed

    elapsed = asyncio.run(scenario())
    assert elapsed < 0.75  # the slow batches were cancelled, not waited for
    sent_texts = {text for seen in server.seen for text in seen.body["input"]}
    assert {"t0", "t2"} <= sent_texts <= {"t0", "t1", "t2", "t3"}
    stats = embedder.get_stats()
    assert stats["errors"] == {"bad_request": 1}  # cancellations are not errors
    assert (stats["requests"], stats["texts"]) == (len(server.seen), 1)
    assert breaker.state == "closed"  # nor breaker failures


def test_budget_counts_batches_in_flight(server: EmbeddingServer) -> None:
    texts = [f"w{i}" for i in range(5)]
    for text in texts[1:]:
        server.when(text, Action(delay=1.0))
    # 1 USD per token, one token a batch: w0 spends 1, w1 and w2 are in flight with 3,
    # so w3 is refused although nothing more has been billed yet.
    embedder = make(
        "openai",
        server,
        max_batch_size=1,
        prices={"test-model": 1_000_000},
        daily_budget_usd=3.0,
    )
    with pytest.raises(BudgetExceededError):
        asyncio.run(embedder.aembed(texts))
    assert len(server.seen) <= 3
    stats = embedder.get_stats()
    assert stats["errors"] == {"budget": 1}
    # The cancelled w1 and w2 may have been billed: their estimates stay counted.
    assert stats["spent_today_usd"] == pytest.approx(3.0)


def test_half_open_breaker_lets_the_first_batch_try_alone(server: EmbeddingServer) -> None:
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=1, cooldown_seconds=5, clock=lambda: now[0])
    embedder = make(
        "openai",
        server,
        max_batch_size=1,
        retry=RetryPolicy(max_retries=0),
        circuit_breaker=breaker,
    )
    server.then(Action(status=500))
    with pytest.raises(ServiceUnavailableError):
        asyncio.run(embedder.aembed(["a"]))
    now[0] += 6
    texts = [f"doc {i}" for i in range(6)]
    vectors = asyncio.run(embedder.aembed(texts))  # the trial, then the rest together
    np.testing.assert_allclose(vectors, server.expected(texts), atol=1e-6)
    assert breaker.state == "closed"


def test_the_first_answer_fixes_the_dimension_for_the_rest(server: EmbeddingServer) -> None:
    server.then(Action(), Action(dim=5), Action(dim=5))
    embedder = make("openai", server, max_batch_size=1)  # test-model: dimension unknown
    with pytest.raises(ResponseFormatError, match="dimension 8, got 5"):
        asyncio.run(embedder.aembed(["a", "b", "c"]))


def test_cancelled_trial_leaves_the_breaker_to_try_again(server: EmbeddingServer) -> None:
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=1, cooldown_seconds=5, clock=lambda: now[0])
    embedder = make("openai", server, retry=RetryPolicy(max_retries=0), circuit_breaker=breaker)
    server.then(Action(status=500))
    with pytest.raises(ServiceUnavailableError):
        asyncio.run(embedder.aembed(["a"]))
    now[0] += 6
    server.when("slow", Action(delay=1.0))

    async def cancel_the_trial() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(embedder.aembed(["slow"]), 0.2)
        assert asyncio.all_tasks() == {asyncio.current_task()}

    asyncio.run(cancel_the_trial())
    assert breaker.state == "half_open"  # neither reopened nor stuck on the lost trial
    asyncio.run(embedder.aembed(["b"]))
    assert breaker.state == "closed"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("value", [0, -2, 2.5, True, "4", None])
def test_bad_concurrency_limits_are_refused(
    backend: str, value: Any, server: EmbeddingServer
) -> None:
    expected = f"max_concurrent_requests must be an integer of at least 1, got {value!r}"
    with pytest.raises(ValueError, match=re.escape(expected)):
        make(backend, server, max_concurrent_requests=value)
