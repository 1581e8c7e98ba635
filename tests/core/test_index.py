"""The ``index=`` option: the multi-index hash answers exactly as the flat scan, above and below
the size where ``auto`` switches it on, and after a save and reopen; other values are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from binary_semantic_cache import BinaryEncoder, BinarySemanticCache

from .conftest import DIM, unit

# Enough for "mih" to grow, spill and rebuild its tables. "auto" and "approx" index only from
# 2,097,152 entries (the core's MIH_MIN_ENTRIES), so below it they scan and answer as "flat";
# the switch, the give-up and approx's probes are tested in crates/bsc-core/tests.
N = 70_000
MODES = ("auto", "flat", "mih", "approx")


def answers(cache: BinarySemanticCache, queries: np.ndarray) -> list[object]:
    gets = [(h.id, h.distance) if (h := cache.get(q)) else None for q in queries]
    tops = [[(h.id, h.distance) for h in cache.search(q, k=5, min_similarity=0.8)] for q in queries]
    return [gets, tops]


def queries(rng: np.random.Generator, stored: np.ndarray) -> np.ndarray:
    near = stored[:: len(stored) // 40][:40] + 0.05 * rng.standard_normal((40, DIM))
    return np.vstack([near, unit(rng, 20)]).astype(np.float32)


def test_every_mode_gives_the_flat_answers(rng: np.random.Generator) -> None:
    encoder = BinaryEncoder(DIM, code_bits=256, seed=7)
    stored = unit(rng, N)
    qs = queries(rng, stored)
    caches = {m: BinarySemanticCache(encoder, max_entries=N, index=m) for m in MODES}
    for cache in caches.values():
        cache.put_batch(stored, range(N))
        # evictions and deletes move positions inside the index
        cache.put_batch(stored[:500] * -1, range(500))
        for id in cache.ids()[:: N // 100]:
            cache.delete(id)
    results = {m: answers(c, qs) for m, c in caches.items()}
    assert any(g is not None for g in results["flat"][0])
    assert results["auto"] == results["flat"] == results["mih"] == results["approx"]
    assert [c.index for c in caches.values()] == list(MODES)
    # A batch longer than one block of the binding (1,024 rows) gives the single gets' answers.
    many = np.vstack([qs] * 20)
    for cache in caches.values():
        before = cache.stats()
        batch = [(h.id, h.distance) if h else None for h in cache.get_batch(many)]
        assert batch == results["flat"][0] * 20
        after = cache.stats()
        found = sum(b is not None for b in batch)
        assert (after["hits"] - before["hits"], after["misses"] - before["misses"]) == (
            found,
            len(many) - found,
        )


def test_other_values_are_refused(encoder: BinaryEncoder) -> None:
    for bad in ("hnsw", "Flat", ""):
        with pytest.raises(ValueError, match="index must be 'auto', 'flat', 'mih' or 'approx'"):
            BinarySemanticCache(encoder, index=bad)  # type: ignore[arg-type]


def test_the_index_survives_save_and_reopen(tmp_path: Path, rng: np.random.Generator) -> None:
    stored = unit(rng, 3000)
    qs = queries(rng, stored)
    with BinarySemanticCache(BinaryEncoder(DIM), path=tmp_path / "c", index="mih") as cache:
        cache.put_batch(stored, range(len(stored)))
        cache.save()
        before = answers(cache, qs)
    for mode in MODES:
        with BinarySemanticCache(path=tmp_path / "c", index=mode) as reopened:
            assert reopened.index == mode
            assert answers(reopened, qs) == before
