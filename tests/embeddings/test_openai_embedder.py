"""OpenAIEmbedder against a real HTTP server on 127.0.0.1 (see conftest.EmbeddingServer)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
import pytest

from binary_semantic_cache.embeddings import (
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    CircuitBreaker,
    CircuitOpenError,
    Embedder,
    InputTooLongError,
    InvalidInputError,
    OpenAIEmbedder,
    OpenAIEmbeddingBackend,
    RateLimitError,
    RequestTimeoutError,
    ResponseFormatError,
    RetryPolicy,
    ServerConnectionError,
    ServiceUnavailableError,
)
from tests.embeddings.http_server import Action, EmbeddingServer

KEY = "sk-test-secret-0123456789"
FAST = RetryPolicy(max_retries=3, initial_backoff=0.01, max_backoff=0.05)


def make(server: EmbeddingServer, **kwargs: Any) -> OpenAIEmbedder:
    options: dict[str, Any] = {
        "api_key": KEY,
        "base_url": f"{server.url}/v1",
        "retry": FAST,
        "token_counter": lambda text: len(text.split()),
    }
    options.update(kwargs)
    return OpenAIEmbedder(options.pop("model", "test-model"), **options)


def test_embeds_in_input_order_with_unit_rows(server: EmbeddingServer) -> None:
    texts = ["alpha", "beta gamma", "delta"]
    vectors = make(server).embed(texts)
    assert vectors.dtype == np.float32
    assert vectors.shape == (3, server.dim)
    np.testing.assert_allclose(vectors, server.expected(texts), rtol=1e-5, atol=1e-6)
    request = server.seen[0]
    assert request.path == "/v1/embeddings"
    assert request.body["model"] == "test-model"
    assert request.body["encoding_format"] == "float"
    assert request.headers["authorization"] == f"Bearer {KEY}"


def test_items_answered_out_of_order_are_put_back_by_index(server: EmbeddingServer) -> None:
    server.then(Action(reverse=True))
    texts = ["one", "two", "three", "four"]
    np.testing.assert_allclose(make(server).embed(texts), server.expected(texts), atol=1e-6)


def test_large_input_splits_at_2048_per_request_in_order(server: EmbeddingServer) -> None:
    texts = [f"text number {i}" for i in range(5000)]
    vectors = make(server, rpm_limit=None, tpm_limit=None).embed(texts)
    assert server.batch_sizes() == [2048, 2048, 904]
    np.testing.assert_allclose(vectors, server.expected(texts), atol=1e-6)


def test_batches_respect_token_limit_and_batch_size(server: EmbeddingServer) -> None:
    texts = ["a b c d e"] * 3 + ["x"] * 5  # 5 tokens each, then 1 token each
    make(server, max_batch_tokens=10, max_batch_size=4).embed(texts)
    assert server.batch_sizes() == [2, 4, 2]  # 5+5 | 5+1+1+1 (4 texts) | 1+1


def test_429_is_retried_after_the_servers_retry_after(server: EmbeddingServer) -> None:
    server.then(
        Action(status=429, headers={"Retry-After": "0.2"}),
        Action(status=429, headers={"Retry-After": "0.2"}),
    )
    embedder = make(server)
    started = time.monotonic()
    embedder.embed(["hello"])
    assert time.monotonic() - started >= 0.4
    stats = embedder.get_stats()
    assert len(server.seen) == 3
    assert stats["requests"] == 3
    assert stats["retries"] == 2
    assert stats["errors"] == {"rate_limit": 2}


def test_retry_after_in_milliseconds_is_honoured(server: EmbeddingServer) -> None:
    server.then(Action(status=429, headers={"retry-after-ms": "200"}))
    started = time.monotonic()
    make(server).embed(["hello"])
    assert time.monotonic() - started >= 0.2


def test_retry_after_longer_than_allowed_raises_without_waiting(server: EmbeddingServer) -> None:
    server.then(Action(status=429, headers={"Retry-After": "120"}))
    embedder = make(server, retry=RetryPolicy(max_retry_after=1.0))
    started = time.monotonic()
    with pytest.raises(RateLimitError) as caught:
        embedder.embed(["hello"])
    assert time.monotonic() - started < 1.0
    assert caught.value.retry_after == 120
    assert len(server.seen) == 1


def test_500_is_retried_then_succeeds(server: EmbeddingServer) -> None:
    server.then(Action(status=500), Action(status=503))
    embedder = make(server)
    embedder.embed(["hello"])
    stats = embedder.get_stats()
    assert (stats["requests"], stats["retries"], stats["errors"]) == (3, 2, {"server": 2})


def test_500_after_all_retries_raises_service_unavailable(server: EmbeddingServer) -> None:
    server.then(*[Action(status=500)] * 4)
    with pytest.raises(ServiceUnavailableError, match="500"):
        make(server).embed(["hello"])
    assert len(server.seen) == FAST.max_retries + 1


def test_401_raises_at_once_without_retry(server: EmbeddingServer) -> None:
    server.then(Action(status=401, body={"error": {"message": "Incorrect API key provided"}}))
    embedder = make(server)
    with pytest.raises(AuthenticationError, match="401") as caught:
        embedder.embed(["hello"])
    assert len(server.seen) == 1
    assert KEY not in str(caught.value)
    assert embedder.get_stats()["errors"] == {"authentication": 1}
    assert embedder.get_stats()["retries"] == 0


def test_403_and_400_raise_at_once(server: EmbeddingServer) -> None:
    server.then(Action(status=403), Action(status=400))
    embedder = make(server)
    with pytest.raises(AuthenticationError, match="403"):
        embedder.embed(["hello"])
    with pytest.raises(BadRequestError, match="400"):
        embedder.embed(["hello"])
    assert len(server.seen) == 2


def test_slow_server_times_out_and_is_retried(server: EmbeddingServer) -> None:
    server.then(Action(delay=1.0), Action(delay=1.0))
    embedder = make(server, timeout=0.2, retry=RetryPolicy(max_retries=1, initial_backoff=0.01))
    started = time.monotonic()
    with pytest.raises(RequestTimeoutError):
        embedder.embed(["hello"])
    assert time.monotonic() - started < 1.5
    assert embedder.get_stats()["errors"] == {"timeout": 2}


def test_unreachable_server_raises_connection_error(server: EmbeddingServer) -> None:
    port = server.port
    server.close()
    embedder = OpenAIEmbedder(
        "test-model", api_key=KEY, base_url=f"http://127.0.0.1:{port}/v1", retry=FAST
    )
    with pytest.raises(ServerConnectionError):
        embedder.embed(["hello"])
    assert embedder.get_stats()["retries"] == FAST.max_retries


def test_malformed_json_is_a_clear_error_and_not_retried(server: EmbeddingServer) -> None:
    server.then(Action(raw=b'{"data": [ {"embedding": [0.1, '))
    with pytest.raises(ResponseFormatError, match="expected"):
        make(server).embed(["hello"])
    assert len(server.seen) == 1


def test_body_without_data_is_a_clear_error(server: EmbeddingServer) -> None:
    server.then(Action(raw=b'{"object": "list"}'))
    with pytest.raises(ResponseFormatError, match="'data'"):
        make(server).embed(["hello"])


def test_wrong_dimension_is_rejected(server: EmbeddingServer) -> None:
    embedder = make(server)
    embedder.embed(["first"])  # learns dimension 8
    server.then(Action(dim=5))
    with pytest.raises(ResponseFormatError, match="dimension 8, got 5"):
        embedder.embed(["second"])


def test_known_model_with_wrong_dimension_is_rejected(server: EmbeddingServer) -> None:
    with pytest.raises(ResponseFormatError, match="dimension 1536, got 8"):
        make(server, model="text-embedding-3-small").embed(["hello"])


def test_missing_vector_is_rejected(server: EmbeddingServer) -> None:
    server.then(Action(drop=True))
    with pytest.raises(ResponseFormatError, match="expected 3 vectors"):
        make(server).embed(["a", "b", "c"])


def test_bad_inputs_are_refused_before_any_request(server: EmbeddingServer) -> None:
    embedder = make(server)
    with pytest.raises(InvalidInputError, match="empty sequence"):
        embedder.embed([])
    with pytest.raises(InvalidInputError, match="str at index 1, got int"):
        embedder.embed(["ok", 3])  # type: ignore[list-item]
    with pytest.raises(InvalidInputError, match="non-empty string at index 0"):
        embedder.embed([""])
    with pytest.raises(InvalidInputError, match="single str"):
        embedder.embed("hello")
    assert server.seen == []


def test_breaker_opens_after_failures_and_closes_after_cooldown(server: EmbeddingServer) -> None:
    now = [1000.0]
    breaker = CircuitBreaker(failure_threshold=2, cooldown_seconds=30, clock=lambda: now[0])
    embedder = make(server, retry=RetryPolicy(max_retries=0), circuit_breaker=breaker)
    server.then(Action(status=500), Action(status=500))
    for _ in range(2):
        with pytest.raises(ServiceUnavailableError):
            embedder.embed(["hello"])
    assert breaker.state == "open"
    with pytest.raises(CircuitOpenError) as caught:
        embedder.embed(["hello"])
    assert caught.value.retry_in == pytest.approx(30)
    assert len(server.seen) == 2  # refused without a request

    now[0] += 31
    assert breaker.state == "half_open"
    embedder.embed(["hello"])  # the trial call succeeds
    assert breaker.state == "closed"
    assert embedder.get_stats()["errors"] == {"server": 2, "circuit_open": 1}


def test_breaker_reopens_when_the_trial_call_fails(server: EmbeddingServer) -> None:
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=1, cooldown_seconds=10, clock=lambda: now[0])
    embedder = make(server, retry=RetryPolicy(max_retries=0), circuit_breaker=breaker)
    server.then(Action(status=502), Action(status=502))
    with pytest.raises(ServiceUnavailableError):
        embedder.embed(["hello"])
    now[0] += 11
    with pytest.raises(ServiceUnavailableError):
        embedder.embed(["hello"])
    assert breaker.state == "open"


def test_client_errors_do_not_open_the_breaker(server: EmbeddingServer) -> None:
    breaker = CircuitBreaker(failure_threshold=1)
    embedder = make(server, circuit_breaker=breaker)
    server.then(Action(status=400))
    with pytest.raises(BadRequestError):
        embedder.embed(["hello"])
    assert breaker.state == "closed"


def test_a_text_past_the_models_window_is_an_input_too_long_error(
    server: EmbeddingServer,
) -> None:
    server.context_words = 4
    breaker = CircuitBreaker(failure_threshold=1)
    embedder = make(server, circuit_breaker=breaker)
    with pytest.raises(InputTooLongError, match="maximum context length is 4 tokens") as caught:
        embedder.embed(["one two three four five"])
    assert isinstance(caught.value, BadRequestError)  # callers catching 400s still catch it
    assert caught.value.status_code == 400
    assert len(server.seen) == 1 and breaker.state == "closed"
    with pytest.raises(InputTooLongError):
        asyncio.run(embedder.aembed(["one two three four five"]))


def test_budget_stops_calls_before_they_are_sent(server: EmbeddingServer) -> None:
    # 1 USD per token makes the arithmetic visible.
    embedder = make(server, prices={"test-model": 1_000_000}, daily_budget_usd=10.0)
    embedder.embed(["one two three"])  # 3 tokens: 3 USD
    embedder.embed(["four five six seven"])  # 4 tokens: 7 USD in all
    with pytest.raises(BudgetExceededError, match=r"within 10\.000000 USD"):
        embedder.embed(["eight nine ten eleven"])  # would make 11
    assert len(server.seen) == 2
    stats = embedder.get_stats()
    assert stats["spent_today_usd"] == pytest.approx(7.0)
    assert stats["errors"] == {"budget": 1}


def test_stats_and_cost_add_up(server: EmbeddingServer) -> None:
    embedder = make(server, model="text-embedding-3-small", dimensions=8)
    texts = ["how are you", "what is the time now", "hi"]
    embedder.embed(texts[:2])
    embedder.embed(texts[2:])
    stats = embedder.get_stats()
    tokens = sum(len(t.split()) for t in texts)
    assert stats["requests"] == 2
    assert stats["texts"] == 3
    assert stats["tokens"] == tokens
    assert stats["estimated_tokens"] == 0
    assert stats["cost_usd"] == pytest.approx(tokens * 0.02 / 1_000_000)
    assert stats["spent_today_usd"] == pytest.approx(stats["cost_usd"])
    assert server.seen[0].body["dimensions"] == 8


def test_estimate_is_billed_when_the_server_reports_no_usage(server: EmbeddingServer) -> None:
    server.then(Action(no_usage=True))
    embedder = make(server, token_counter=lambda text: 7)
    embedder.embed(["a", "b"])
    stats = embedder.get_stats()
    assert (stats["tokens"], stats["estimated_tokens"]) == (14, 14)


def test_key_is_never_shown(server: EmbeddingServer) -> None:
    embedder = make(server)
    embedder.embed(["hello"])
    shown = " ".join([repr(embedder), embedder.model_id, str(embedder.get_stats())])
    assert KEY not in shown
    assert embedder.model_id == f"openai:test-model@127.0.0.1:{server.port}"
    assert KEY not in str(vars(embedder).values())


def test_model_id_includes_a_reduced_dimension(server: EmbeddingServer) -> None:
    embedder = make(server, model="text-embedding-3-large", dimensions=256)
    assert embedder.model_id == f"openai:text-embedding-3-large/256@127.0.0.1:{server.port}"
    assert embedder.dim == 256
    assert server.seen == []


def test_settings_come_from_the_environment(
    server: EmbeddingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    monkeypatch.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
    OpenAIEmbedder("test-model").embed(["hello"])
    assert server.seen[0].headers["authorization"] == "Bearer sk-from-env"


@pytest.mark.usefixtures("clean_env")
def test_missing_key_for_openai_is_a_clear_error() -> None:
    with pytest.raises(AuthenticationError, match="OPENAI_API_KEY"):
        OpenAIEmbedder()


def test_unknown_dimension_is_learnt_with_one_probe(server: EmbeddingServer) -> None:
    embedder = make(server)
    assert embedder.dim == server.dim
    assert embedder.dim == server.dim
    assert len(server.seen) == 1


def test_is_an_embedder_and_keeps_the_seed_api(server: EmbeddingServer) -> None:
    backend = OpenAIEmbeddingBackend(
        "text-embedding-3-small", api_key=KEY, base_url=f"{server.url}/v1"
    )
    assert isinstance(backend, Embedder)
    server.dim = 1536
    vector = backend.embed_text("What is the capital of France?")
    assert vector.shape == (1536,)
    assert backend.get_stats()["requests"] == 1


# -- async: the same behaviours through aembed ----------------------------------------------


def test_async_embeds_in_order_across_batches(server: EmbeddingServer) -> None:
    texts = [f"t {i}" for i in range(10)]
    vectors = asyncio.run(make(server, max_batch_size=4).aembed(texts))
    assert server.batch_sizes() == [4, 4, 2]
    np.testing.assert_allclose(vectors, server.expected(texts), atol=1e-6)


def test_async_honours_retry_after(server: EmbeddingServer) -> None:
    server.then(Action(status=429, headers={"Retry-After": "0.2"}))
    embedder = make(server)
    started = time.monotonic()
    asyncio.run(embedder.aembed(["hello"]))
    assert time.monotonic() - started >= 0.2
    assert embedder.get_stats()["retries"] == 1
    assert len(server.seen) == 2


def test_async_401_raises_at_once(server: EmbeddingServer) -> None:
    server.then(Action(status=401))
    with pytest.raises(AuthenticationError):
        asyncio.run(make(server).aembed(["hello"]))
    assert len(server.seen) == 1


def test_async_timeout_and_malformed_json(server: EmbeddingServer) -> None:
    embedder = make(server, timeout=0.2, retry=RetryPolicy(max_retries=0))
    server.then(Action(delay=1.0), Action(raw=b"not json"))
    with pytest.raises(RequestTimeoutError):
        asyncio.run(embedder.aembed(["hello"]))
    with pytest.raises(ResponseFormatError):
        asyncio.run(embedder.aembed(["hello"]))


def test_async_breaker_and_budget(server: EmbeddingServer) -> None:
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=1, cooldown_seconds=5, clock=lambda: now[0])
    embedder = make(
        server,
        retry=RetryPolicy(max_retries=0),
        circuit_breaker=breaker,
        prices={"test-model": 1_000_000},
        daily_budget_usd=2.0,
    )
    server.then(Action(status=500))
    with pytest.raises(ServiceUnavailableError):
        asyncio.run(embedder.aembed(["a"]))
    with pytest.raises(CircuitOpenError):
        asyncio.run(embedder.aembed(["a"]))
    now[0] += 6
    asyncio.run(embedder.aembed(["a b"]))  # 2 USD: the whole budget
    with pytest.raises(BudgetExceededError):
        asyncio.run(embedder.aembed(["c"]))
    assert len(server.seen) == 2


def test_one_embedder_serves_several_event_loops(server: EmbeddingServer) -> None:
    embedder = make(server)
    for _ in range(2):
        asyncio.run(embedder.aembed(["hello"]))
    assert embedder.get_stats()["requests"] == 2


def test_tokens_per_minute_limit_paces_requests(server: EmbeddingServer) -> None:
    embedder = make(server, tpm_limit=600)  # 10 tokens a second, a bucket of 600
    # Timed from before the first call: the bucket refills while that request is in flight.
    started = time.monotonic()
    embedder.embed([" ".join(["word"] * 600)])  # spends the whole bucket
    embedder.embed(["two words"])  # needs 2 tokens: 0.2 s of refill
    assert time.monotonic() - started >= 0.19
    assert len(server.seen) == 2
