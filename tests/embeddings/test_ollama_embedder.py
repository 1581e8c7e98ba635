"""OllamaEmbedder against a real HTTP server on 127.0.0.1 speaking /api/embed."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from binary_semantic_cache.embeddings import (
    BadRequestError,
    CircuitBreaker,
    InputTooLongError,
    OllamaEmbedder,
    RequestTimeoutError,
    ResponseFormatError,
    RetryPolicy,
    ServerConnectionError,
    ServiceUnavailableError,
)
from tests.embeddings.http_server import Action, EmbeddingServer

FAST = RetryPolicy(max_retries=2, initial_backoff=0.01, max_backoff=0.02)


def test_embeds_through_the_native_endpoint(server: EmbeddingServer) -> None:
    embedder = OllamaEmbedder(model_name="nomic-embed-text", base_url=server.url)
    texts = ["hello local world", "second"]
    vectors = embedder.embed(texts)
    np.testing.assert_allclose(vectors, server.expected(texts), atol=1e-6)
    assert server.seen[0].path == "/api/embed"
    assert server.seen[0].body == {"model": "nomic-embed-text", "input": texts, "truncate": False}
    assert embedder.model_id == f"ollama:nomic-embed-text@127.0.0.1:{server.port}"
    stats = embedder.get_stats()
    assert (stats["tokens"], stats["cost_usd"]) == (4, 0.0)


def test_host_from_environment_without_scheme(
    server: EmbeddingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{server.port}")
    embedder = OllamaEmbedder("all-minilm")
    assert embedder.dim == server.dim  # learnt from one probe request
    assert len(server.seen) == 1


def test_batches_keep_order(server: EmbeddingServer) -> None:
    texts = [f"text {i}" for i in range(7)]
    vectors = OllamaEmbedder("m", base_url=server.url, max_batch_size=3).embed(texts)
    assert server.batch_sizes() == [3, 3, 1]
    np.testing.assert_allclose(vectors, server.expected(texts), atol=1e-6)


def test_server_error_is_retried(server: EmbeddingServer) -> None:
    server.then(Action(status=500, body={"error": "llama runner crashed"}))
    embedder = OllamaEmbedder("m", base_url=server.url, retry=FAST)
    embedder.embed(["hello"])
    assert embedder.get_stats()["retries"] == 1
    server.then(*[Action(status=500, body={"error": "llama runner crashed"})] * 3)
    with pytest.raises(ServiceUnavailableError, match="llama runner crashed"):
        embedder.embed(["hello"])


def test_retry_after_is_honoured(server: EmbeddingServer) -> None:
    server.then(Action(status=429, headers={"Retry-After": "0.2"}))
    started = time.monotonic()
    OllamaEmbedder("m", base_url=server.url, retry=FAST).embed(["hello"])
    assert time.monotonic() - started >= 0.2
    assert len(server.seen) == 2


def test_missing_model_is_a_bad_request_with_the_servers_message(
    server: EmbeddingServer,
) -> None:
    server.then(Action(status=404, body={"error": 'model "nope" not found, try pulling it'}))
    with pytest.raises(BadRequestError, match="not found, try pulling it"):
        OllamaEmbedder("nope", base_url=server.url, retry=FAST).embed(["hello"])
    assert len(server.seen) == 1


@pytest.mark.parametrize("status", [400, 500])
def test_a_text_past_the_context_is_refused_not_cut(server: EmbeddingServer, status: int) -> None:
    # What Ollama answers with "truncate": false when an input exceeds the model's context;
    # some versions say it with a 500, which must not be retried or open the breaker.
    server.context_words, server.context_status = 5, status
    breaker = CircuitBreaker(failure_threshold=1)
    embedder = OllamaEmbedder(
        "all-minilm", base_url=server.url, retry=FAST, circuit_breaker=breaker
    )
    with pytest.raises(
        InputTooLongError, match=f"input window \\({status}\\).*exceeds the context"
    ):
        embedder.embed(["word " * 6])
    assert server.seen[0].body["truncate"] is False
    assert len(server.seen) == 1
    assert breaker.state == "closed"
    assert embedder.get_stats()["errors"] == {"input_too_long": 1}
    embedder.embed(["word " * 5])  # within the window


def test_malformed_and_wrong_answers(server: EmbeddingServer) -> None:
    embedder = OllamaEmbedder("m", base_url=server.url, dim=8)
    server.then(Action(raw=b"<html>"), Action(raw=b'{"embeddings": null}'), Action(dim=3))
    with pytest.raises(ResponseFormatError, match="expected JSON"):
        embedder.embed(["hello"])
    with pytest.raises(ResponseFormatError, match="'embeddings' list"):
        embedder.embed(["hello"])
    with pytest.raises(ResponseFormatError, match="dimension 8, got 3"):
        embedder.embed(["hello"])


def test_timeout_and_unreachable(server: EmbeddingServer) -> None:
    server.then(Action(delay=1.0))
    embedder = OllamaEmbedder(
        "m", base_url=server.url, timeout=0.2, retry=RetryPolicy(max_retries=0)
    )
    with pytest.raises(RequestTimeoutError):
        embedder.embed(["hello"])
    port = server.port
    server.close()
    with pytest.raises(ServerConnectionError):
        OllamaEmbedder("m", base_url=f"http://127.0.0.1:{port}", retry=FAST).embed(["x"])


def test_async_path(server: EmbeddingServer) -> None:
    server.then(Action(status=503))
    embedder = OllamaEmbedder("m", base_url=server.url, retry=FAST)
    vectors = asyncio.run(embedder.aembed(["a", "b"]))
    np.testing.assert_allclose(vectors, server.expected(["a", "b"]), atol=1e-6)
    assert embedder.get_stats()["retries"] == 1


def test_conflicting_model_names_are_refused() -> None:
    with pytest.raises(ValueError, match="disagree"):
        OllamaEmbedder("a", model_name="b")
