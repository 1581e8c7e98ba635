"""The Python API: round trips, partitions, batches, delete, clear, TTL, stats."""

from __future__ import annotations

import time

import numpy as np
import pytest

from binary_semantic_cache import (
    DEFAULT_SIMILARITY_THRESHOLD,
    BinaryEncoder,
    BinarySemanticCache,
)

from .conftest import DIM, unit


@pytest.mark.parametrize(
    "response",
    ["Paris", "", "ünïcødé ✓", b"\x00\xffbytes", {"a": [1, 2.5, None]}, [1, "x"], 42, None, True],
)
def test_response_comes_back_as_given(cache: BinarySemanticCache, rng, response) -> None:
    v = unit(rng, 1)[0]
    cache.put(v, response)
    hit = cache.get(v)
    assert hit is not None
    assert hit.response == response
    assert type(hit.response) is type(response)
    assert hit.similarity == 1.0
    assert hit.distance == 0


def test_similar_hits_and_unrelated_misses(cache: BinarySemanticCache, rng) -> None:
    v = unit(rng, 1)[0]
    cache.put(v, "stored")
    near = v + 0.05 * unit(rng, 1)[0]
    assert (hit := cache.get(near)) is not None and hit.response == "stored"
    assert cache.get(unit(rng, 1)[0]) is None
    assert cache.stats()["hits"] == 1
    assert cache.stats()["misses"] == 1


def test_float64_lists_and_non_contiguous_arrays_are_accepted(cache, rng) -> None:
    v = unit(rng, 1)[0]
    cache.put(v.astype(np.float64), "x")
    wide = np.zeros((DIM, 2), dtype=np.float32)
    wide[:, 0] = v
    assert cache.get(wide[:, 0]) is not None  # a strided view
    assert cache.get(v.tolist()) is not None


def test_partitions_never_answer_each_other(cache, rng) -> None:
    v = unit(rng, 1)[0]
    cache.put(v, "a", partition="tenant-a")
    assert cache.get(v) is None
    assert cache.get(v, partition="tenant-b") is None
    assert (hit := cache.get(v, partition="tenant-a")) is not None and hit.response == "a"


def test_batches_match_single_calls(cache, rng) -> None:
    xs = unit(rng, 20)
    ids = cache.put_batch(xs, [f"r{i}" for i in range(20)], partition="p")
    assert len(set(ids)) == 20
    hits = cache.get_batch(xs, partition="p")
    assert [h.response if h else None for h in hits] == [f"r{i}" for i in range(20)]
    codes = cache.encoder.encode_batch(xs)
    assert codes.shape == (20, 4) and codes.dtype == np.uint64
    assert all((codes[i] == cache.encoder.encode(xs[i])).all() for i in range(20))


def test_search_returns_best_first(cache, rng) -> None:
    v = unit(rng, 1)[0]
    cache.put(v, "exact")
    cache.put(v + 0.1 * unit(rng, 1)[0], "near")
    found = cache.search(v, k=5, min_similarity=0.0)
    assert [h.response for h in found][:1] == ["exact"]
    assert [h.similarity for h in found] == sorted((h.similarity for h in found), reverse=True)
    assert cache.stats()["hits"] == 0  # search is not a lookup


def test_delete_and_clear(cache, rng) -> None:
    xs = unit(rng, 4)
    ids = [cache.put(xs[i], i, partition="a" if i < 2 else "b") for i in range(4)]
    assert cache.delete(ids[0]) is True
    assert cache.delete(ids[0]) is False  # a stale id names nothing
    assert cache.get(xs[0], partition="a") is None
    assert cache.clear(partition="b") == 2
    assert len(cache) == 1
    assert cache.clear() == 1
    assert len(cache) == 0
    # A reused slot does not answer to the id of its previous entry.
    new_id = cache.put(xs[0], "new", partition="a")
    assert new_id not in ids
    assert cache.delete(ids[1]) is False


def test_clear_prefix_and_has_partition(cache, rng) -> None:
    xs = unit(rng, 3)
    for x, partition in zip(xs, ["ns1/a", "ns1/b", "ns2/a"], strict=True):
        cache.put(x, partition, partition=partition)
    assert cache.has_partition("ns1/a") and not cache.has_partition("ns3")
    assert cache.clear_prefix("ns1/") == 2
    assert not cache.has_partition("ns1/a") and not cache.has_partition("ns1/b")
    assert cache.get(xs[2], partition="ns2/a") is not None


def test_lru_eviction_keeps_recently_used(encoder, rng) -> None:
    cache = BinarySemanticCache(encoder, max_entries=3, similarity_threshold=0.99)
    xs = unit(rng, 4)
    ids = [cache.put(xs[i], i) for i in range(3)]
    assert cache.get(xs[0]) is not None  # 0 becomes most recently used
    cache.put(xs[3], 3)
    assert cache.get(xs[1]) is None  # 1 was least recently used
    assert cache.ids() == [ids[2], ids[0], cache.ids()[-1]]
    assert cache.stats()["evictions"] == 1


def test_ttl_expires_entries(encoder, rng) -> None:
    cache = BinarySemanticCache(encoder, ttl_seconds=0.15)
    v, w = unit(rng, 2)
    cache.put(v, "short")
    cache.put(w, "long", ttl_seconds=30)
    assert cache.get(v) is not None
    time.sleep(0.2)
    assert cache.get(v) is None
    assert cache.get(w) is not None
    cache.put(v, "again")  # the write reclaims the expired slot
    assert cache.stats()["expirations"] == 1


def test_rescore_uses_stored_vectors(encoder, rng) -> None:
    cache = BinarySemanticCache(encoder, rescore=True, similarity_threshold=0.95)
    v = unit(rng, 1)[0]
    cache.put(v, "x")
    near = v + 0.1 * unit(rng, 1)[0]
    expected = float(near @ v / np.linalg.norm(near))
    hit = cache.get(near)
    assert hit is not None
    assert hit.similarity == pytest.approx(expected, abs=0.01)


def test_defaults_and_repr(encoder) -> None:
    cache = BinarySemanticCache(encoder)
    assert cache.similarity_threshold == DEFAULT_SIMILARITY_THRESHOLD
    assert "BinarySemanticCache(" in repr(cache)
    assert repr(encoder) == f"BinaryEncoder(embedding_dim={DIM}, code_bits=256, seed=7)"
    assert cache.kernel in {"portable", "popcnt", "avx2", "avx512-vpopcntdq"}


def test_same_seed_gives_same_codes_across_instances(rng) -> None:
    v = unit(rng, 1)[0]
    a = BinaryEncoder(DIM, seed=11).encode(v)
    assert (a == BinaryEncoder(DIM, seed=11).encode(v)).all()
    assert not (a == BinaryEncoder(DIM, seed=12).encode(v)).all()
