"""BSCEmbedding and BinaryCachedEmbedding: counts, kinds, model namespaces, persistence."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from pydantic import PrivateAttr

from binary_semantic_cache import CorruptCacheError
from binary_semantic_cache.embeddings import DefaultEmbedder, as_embedder
from bsc_llamaindex import BinaryCachedEmbedding, BSCEmbedding


class CountingEmbedding(BaseEmbedding):
    """Deterministic 8-d vectors; a query and a text of the same words differ. Counts calls."""

    model_name: str = "counting-embed"
    api_key: str = "secret"
    _query_calls: list[str] = PrivateAttr(default_factory=list)
    _text_calls: list[list[str]] = PrivateAttr(default_factory=list)

    def _vector(self, kind: str, text: str) -> Embedding:
        seed = hashlib.sha256(f"{self.model_name}:{kind}:{text}".encode()).digest()
        return [b / 255 for b in seed[:8]]

    def _get_query_embedding(self, query: str) -> Embedding:
        self._query_calls.append(query)
        return self._vector("q", query)

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._get_text_embeddings([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        self._text_calls.append(list(texts))
        return [self._vector("t", t) for t in texts]


def test_bsc_embedding_wraps_the_default_embedder(embedder: DefaultEmbedder) -> None:
    model = BSCEmbedding(embedder)
    assert model.model_name == embedder.model_id
    query = model.get_query_embedding("kettle warranty")
    texts = model.get_text_embedding_batch(["kettle warranty", "returns"])
    assert len(query) == 384
    assert np.allclose(query, texts[0], atol=1e-6)
    assert np.allclose(asyncio.run(model.aget_text_embedding("returns")), texts[1], atol=1e-6)
    with pytest.raises(TypeError, match="bsc-cache Embedder"):
        BSCEmbedding("MiniLM")  # type: ignore[arg-type]


def test_each_text_reaches_the_model_once_and_batches_send_only_the_missing() -> None:
    inner = CountingEmbedding()
    cached = BinaryCachedEmbedding(inner)
    first = cached.get_text_embedding_batch(["a", "b", "a"])
    again = cached.get_text_embedding_batch(["b", "c", "a"])
    assert inner._text_calls == [["a", "b"], ["c"]]
    assert again[0] == first[1] and again[2] == first[0]
    assert cached.get_text_embedding("c") == again[1]
    stats = cached.stats()
    assert (stats.hits, stats.misses, stats.inner_calls, stats.entries) == (
        3,
        3,
        2,
        3,
    )  # a repeat within a batch is embedded once, not a hit


def test_query_and_text_embeddings_are_kept_apart() -> None:
    inner = CountingEmbedding()
    cached = BinaryCachedEmbedding(inner)
    text = cached.get_text_embedding("kettle")
    query = cached.get_query_embedding("kettle")
    assert query != text
    assert cached.get_query_embedding("kettle") == query
    assert asyncio.run(cached.aget_query_embedding("kettle")) == query
    assert asyncio.run(cached.aget_text_embedding_batch(["kettle"])) == [text]
    assert inner._query_calls == ["kettle"]
    assert inner._text_calls == [["kettle"]]


def test_caches_are_namespaced_by_the_model(tmp_path: Path) -> None:
    a = BinaryCachedEmbedding(CountingEmbedding(model_name="model-a"), path=tmp_path)
    b = BinaryCachedEmbedding(CountingEmbedding(model_name="model-b"), path=tmp_path)
    same_but_key = BinaryCachedEmbedding(CountingEmbedding(model_name="model-a", api_key="other"))
    assert a.model_identity != b.model_identity
    assert a.model_identity == same_but_key.model_identity
    vector_a = a.get_text_embedding("kettle")
    assert b.get_text_embedding("kettle") != vector_a
    a.persist()
    b.persist()
    assert len(list(tmp_path.glob("embeddings-*.json"))) == 2
    reloaded_inner = CountingEmbedding(model_name="model-a")
    reloaded = BinaryCachedEmbedding(reloaded_inner, path=tmp_path)
    assert reloaded.get_text_embedding("kettle") == vector_a
    assert reloaded_inner._text_calls == []


def test_persistence_round_trip_and_corruption(tmp_path: Path) -> None:
    cached = BinaryCachedEmbedding(CountingEmbedding(), path=tmp_path, max_entries=2)
    cached.get_text_embedding_batch(["a", "b", "c"])
    cached.get_query_embedding("q")
    assert cached.stats().entries == 2  # least recently used dropped
    target = cached.persist()
    assert not list(tmp_path.glob("*.tmp"))
    meta = json.loads(target.read_text())
    assert meta["keys"] == [["text", "c"], ["query", "q"]]
    assert BinaryCachedEmbedding(CountingEmbedding(), path=tmp_path).stats().entries == 2
    np.save(target.with_suffix(".npy"), np.zeros((2, 8), dtype=np.float32))
    with pytest.raises(CorruptCacheError, match="expected the vectors"):
        BinaryCachedEmbedding(CountingEmbedding(), path=tmp_path)
    target.write_text("{not json")
    with pytest.raises(CorruptCacheError, match="unreadable JSON"):
        BinaryCachedEmbedding(CountingEmbedding(), path=tmp_path)


def test_a_default_wrapper_serves_an_index(embedder: DefaultEmbedder) -> None:
    cached = BinaryCachedEmbedding(embedder)
    direct = BSCEmbedding(embedder).get_query_embedding("kettle")
    assert np.allclose(cached.get_query_embedding("kettle"), direct, atol=1e-6)


def test_bad_inputs() -> None:
    with pytest.raises(TypeError, match="BaseEmbedding or a bsc-cache Embedder"):
        BinaryCachedEmbedding("text-embedding-3-small")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="already a BinaryCachedEmbedding"):
        BinaryCachedEmbedding(BinaryCachedEmbedding(CountingEmbedding()))
    with pytest.raises(ValueError, match="max_entries"):
        BinaryCachedEmbedding(CountingEmbedding(), max_entries=0)
    with pytest.raises(ValueError, match="no directory"):
        BinaryCachedEmbedding(CountingEmbedding()).persist()


def test_the_wrapper_gives_back_its_embedder(embedder: DefaultEmbedder) -> None:
    assert as_embedder(BSCEmbedding(embedder)) is embedder
