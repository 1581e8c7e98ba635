"""BinaryKVStore: every BaseKVStore method, sync and async; truthiness; limits; persistence."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from llama_index.core import Document
from llama_index.core.ingestion import IngestionCache, IngestionPipeline
from llama_index.core.node_parser import SentenceSplitter

from binary_semantic_cache import CorruptCacheError
from bsc_llamaindex import BinaryKVStore, BSCEmbedding
from tests.llamaindex.test_embedding import CountingEmbedding


def test_conformance_sync() -> None:
    store = BinaryKVStore()
    assert store and len(store) == 0
    assert store.get("k") is None
    assert store.get_all() == {}
    store.put("k", {"v": [1, 2]})
    store.put("k", {"v": [1, 2]}, collection="other")
    store.put_all([("a", {"x": 1}), ("b", {"x": 2})], batch_size=10)
    assert store.get("k") == {"v": [1, 2]}
    assert store.get_all() == {"k": {"v": [1, 2]}, "a": {"x": 1}, "b": {"x": 2}}
    assert store.get_all("other") == {"k": {"v": [1, 2]}}
    copy = store.get("k")
    assert copy is not None
    copy["v"].append(3)  # callers get copies
    assert store.get("k") == {"v": [1, 2]}
    assert store.delete("k") is True
    assert store.delete("k") is False
    assert store.get("k", collection="other") == {"v": [1, 2]}
    assert len(store) == 3


def test_conformance_async() -> None:
    async def go(store: BinaryKVStore) -> None:
        assert await store.aget("k") is None
        assert await store.aget_all() == {}
        await store.aput("k", {"v": 1})
        await store.aput_all([("a", {"x": 1}), ("b", {"x": 2})], collection="c", batch_size=2)
        assert await store.aget("k") == {"v": 1}
        assert await store.aget_all("c") == {"a": {"x": 1}, "b": {"x": 2}}
        assert await store.adelete("a", collection="c") is True
        assert await store.adelete("a", collection="c") is False
        assert await store.aget_all("c") == {"b": {"x": 2}}

    asyncio.run(go(BinaryKVStore()))


def test_eviction_and_ttl() -> None:
    store = BinaryKVStore(max_entries=2, ttl_seconds=0.2)
    store.put("a", {})
    store.put("b", {})
    assert store.get("a") == {}  # now "b" is the least recently used
    store.put("c", {})
    assert sorted(store.get_all()) == ["a", "c"]
    time.sleep(0.25)
    assert store.get("a") is None
    assert store.get_all() == {}
    assert len(store) == 0
    assert store


def test_persistence(tmp_path: Path) -> None:
    store = BinaryKVStore(tmp_path)
    store.put("k", {"vector": [0.1, 0.2]}, collection="embeddings")
    target = store.persist()
    assert target == tmp_path / "kvstore.json"
    again = BinaryKVStore(tmp_path)
    assert again.get("k", collection="embeddings") == {"vector": [0.1, 0.2]}
    target.write_text('{"format": "bsc-kvstore", "version": 1, "entries": [["k"]]}')
    with pytest.raises(CorruptCacheError, match="rows"):
        BinaryKVStore(tmp_path)


def test_bad_inputs() -> None:
    store = BinaryKVStore()
    with pytest.raises(TypeError, match="values must be dicts"):
        store.put("k", ["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="JSON"):
        store.put("k", {"v": object()})
    with pytest.raises(TypeError, match="key must be a str"):
        store.put(3, {})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_entries"):
        BinaryKVStore(max_entries=0)
    with pytest.raises(ValueError, match="ttl_seconds"):
        BinaryKVStore(ttl_seconds=-1)
    with pytest.raises(ValueError, match="no directory"):
        store.persist()


def test_empty_store_is_used_as_an_embeddings_cache() -> None:
    store = BinaryKVStore()
    inner = CountingEmbedding(embeddings_cache=store)
    first = inner.get_text_embedding_batch(["kettle", "toaster"])
    assert inner.get_text_embedding_batch(["kettle", "toaster"]) == first
    assert inner._text_calls == [["kettle", "toaster"]]  # the second batch came from the store
    assert len(store.get_all("embeddings")) == 2


def test_ingestion_cache(embed_model: BSCEmbedding) -> None:
    store = BinaryKVStore()
    documents = [Document(text="Kettles boil water. Toasters toast bread.", doc_id="d")]

    def run() -> int:
        pipeline = IngestionPipeline(
            transformations=[SentenceSplitter(chunk_size=64, chunk_overlap=0)],
            cache=IngestionCache(cache=store),
        )
        return len(pipeline.run(documents=documents))

    assert run() == run() > 0
    assert len(store) == 1
