"""MemoizedEmbedder and as_embedder (with LangChain's own fake embeddings)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import numpy as np
import pytest

from binary_semantic_cache.embeddings import (
    BaseEmbedder,
    DefaultEmbedder,
    Embedder,
    InputTooLongError,
    InvalidInputError,
    LangChainEmbedder,
    MemoizedEmbedder,
    OllamaEmbedder,
    ResponseFormatError,
    Vectors,
    as_embedder,
)
from binary_semantic_cache.embeddings.base import truncates
from tests.embeddings.http_server import EmbeddingServer


class CountingEmbedder(BaseEmbedder):
    """A deterministic in-process embedder that records every text it is asked for."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    @property
    def dim(self) -> int:
        return 4

    @property
    def model_id(self) -> str:
        return "test:counting"

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.calls.append(list(texts))
        rows = np.array([[len(t) + 1.0, 1.0, float(i), 2.0] for i, t in enumerate(texts)])
        return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_memo_embeds_a_text_once() -> None:
    inner = CountingEmbedder()
    memo = MemoizedEmbedder(inner, maxsize=8)
    first = memo.embed_one("lookup text")
    again = memo.embed_one("lookup text")
    np.testing.assert_array_equal(first, again)
    assert inner.calls == [["lookup text"]]
    assert (memo.hits, memo.misses) == (1, 1)
    assert (memo.model_id, memo.dim) == ("test:counting", 4)


def test_memo_sends_only_new_distinct_texts_and_keeps_order() -> None:
    inner = CountingEmbedder()
    memo = MemoizedEmbedder(inner)
    memo.embed(["a", "bb"])
    vectors = memo.embed(["ccc", "a", "ccc", "bb"])
    assert inner.calls == [["a", "bb"], ["ccc"]]
    np.testing.assert_array_equal(vectors[0], vectors[2])
    np.testing.assert_array_equal(vectors[1], memo.embed_one("a"))


def test_memo_evicts_least_recently_used() -> None:
    inner = CountingEmbedder()
    memo = MemoizedEmbedder(inner, maxsize=2)
    memo.embed(["a"])
    memo.embed(["b"])
    memo.embed(["a"])  # a is now the most recent
    memo.embed(["c"])  # evicts b
    memo.embed(["a", "b"])
    assert inner.calls == [["a"], ["b"], ["c"], ["b"]]


def test_memo_results_cannot_corrupt_the_memo() -> None:
    memo = MemoizedEmbedder(CountingEmbedder())
    vectors = memo.embed(["x"])
    vectors[0, 0] = 99.0
    assert memo.embed(["x"])[0, 0] != 99.0


def test_memo_is_thread_safe() -> None:
    inner = CountingEmbedder()
    memo = MemoizedEmbedder(inner, maxsize=16)
    texts = [f"t{i}" for i in range(40)]
    expected = {t: inner.embed([t])[0] for t in texts}
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for i in range(200):
                text = texts[(i * 7 + offset) % len(texts)]
                np.testing.assert_allclose(memo.embed_one(text), expected[text])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert memo.hits + memo.misses == 800


def test_memo_async_and_bad_input() -> None:
    inner = CountingEmbedder()
    memo = MemoizedEmbedder(inner)
    asyncio.run(memo.aembed(["a"]))
    asyncio.run(memo.aembed(["a"]))
    assert inner.calls == [["a"]]
    with pytest.raises(InvalidInputError):
        memo.embed([])
    with pytest.raises(ValueError, match="maxsize"):
        MemoizedEmbedder(inner, maxsize=0)


def test_memo_remembers_a_text_refused_as_too_long(server: EmbeddingServer) -> None:
    server.context_words = 3
    memo = MemoizedEmbedder(OllamaEmbedder("m", base_url=server.url, dim=8))
    long, other = "one two three four", "five six seven eight"
    assert not memo.truncates(long)
    with pytest.raises(InputTooLongError):
        memo.embed([long])
    assert memo.truncates(long)
    assert not memo.truncates("one two")
    with pytest.raises(InputTooLongError):  # a batch's refusal does not say which text
        memo.embed(["one two", other])
    assert not memo.truncates(other)
    with pytest.raises(InputTooLongError):
        asyncio.run(memo.aembed([other]))
    assert memo.truncates(other)
    memo.clear()
    assert not memo.truncates(long)


def test_as_embedder_returns_embedders_unchanged() -> None:
    embedder = DefaultEmbedder()
    assert as_embedder(embedder) is embedder
    memo = MemoizedEmbedder(CountingEmbedder())
    assert as_embedder(memo) is memo


def test_as_embedder_refuses_other_objects() -> None:
    with pytest.raises(TypeError, match=r"expected an Embedder.*got builtins\.object"):
        as_embedder(object())


def test_langchain_embeddings_become_an_embedder() -> None:
    from langchain_core.embeddings import DeterministicFakeEmbedding as fake

    embedder = as_embedder(fake(size=16))
    assert isinstance(embedder, LangChainEmbedder)
    assert isinstance(embedder, Embedder)
    assert embedder.model_id == "langchain:DeterministicFakeEmbedding:default"
    vectors = embedder.embed(["a", "b", "a"])
    assert vectors.shape == (3, 16) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(vectors[0], vectors[2])
    assert embedder.dim == 16
    np.testing.assert_allclose(asyncio.run(embedder.aembed(["a"])), vectors[:1], atol=1e-6)
    named = as_embedder(fake(size=16), model_id="lc:my-model")
    assert named.model_id == "lc:my-model"


def test_langchain_model_returning_wrong_rows_is_caught() -> None:
    from langchain_core.embeddings import Embeddings

    class Broken(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [[1.0, 0.0]]

        def embed_query(self, text: str) -> list[float]:
            return [1.0, 0.0]

    with pytest.raises(ResponseFormatError, match="expected 2 vectors"):
        as_embedder(Broken()).embed(["a", "b"])


def test_llamaindex_embedding_becomes_an_embedder() -> None:
    from llama_index.core.embeddings import MockEmbedding as mock

    embedder = as_embedder(mock(embed_dim=8))
    assert embedder.embed(["a", "b"]).shape == (2, 8)
    assert embedder.model_id.startswith("llamaindex:MockEmbedding:")


def test_whether_a_text_is_cut_off_passes_through_the_memo() -> None:
    long_text = "word " * 300
    memo = MemoizedEmbedder(DefaultEmbedder())
    assert memo.truncates(long_text) and not memo.truncates("word")
    # Embedders that cannot tell are taken to see the whole text.
    assert not CountingEmbedder().truncates(long_text)
    assert not MemoizedEmbedder(CountingEmbedder()).truncates(long_text)

    class Bare:  # the Embedder protocol only
        dim, model_id = 4, "test:bare"

    assert not truncates(Bare(), long_text)
