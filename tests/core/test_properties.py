"""Lookups and top-k through Python agree with a brute-force search over the same codes."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from binary_semantic_cache import BinaryEncoder, BinarySemanticCache

DIM = 16
POOL = np.random.default_rng(5).standard_normal((10, DIM)).astype(np.float32)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.integers(0, 9), st.integers(0, 2)),
        st.tuples(st.just("get"), st.integers(0, 9), st.integers(0, 2)),
        st.tuples(st.just("search"), st.integers(0, 9), st.integers(0, 2)),
        st.tuples(st.just("delete"), st.integers(0, 50), st.just(0)),
        st.tuples(st.just("clear"), st.integers(0, 3), st.just(0)),
    ),
    max_size=60,
)


def hamming(a: np.ndarray, b: np.ndarray) -> int:
    return int(sum(bin(int(x) ^ int(y)).count("1") for x, y in zip(a, b, strict=True)))


@settings(max_examples=150, deadline=None)
@given(ops=ops, threshold=st.sampled_from([0.0, 0.6, 0.8, 0.95]), bits=st.sampled_from([64, 128]))
def test_lookups_match_brute_force(
    ops: list[tuple[str, int, int]], threshold: float, bits: int
) -> None:
    encoder = BinaryEncoder(DIM, code_bits=bits, seed=3)
    cache = BinarySemanticCache(encoder, similarity_threshold=threshold)
    model: dict[int, tuple[str, np.ndarray, int]] = {}  # id -> (partition, code, payload)
    seen: list[int] = []

    def ranked(v: int, partition: str) -> list[tuple[int, int]]:
        code = encoder.encode(POOL[v])
        found = sorted((hamming(c, code), i) for i, (p, c, _) in model.items() if p == partition)
        return [(d, i) for d, i in found if math.cos(math.pi * d / bits) >= threshold]

    for n, (op, a, b) in enumerate(ops):
        partition = str(b)
        if op == "put":
            i = cache.put(POOL[a], n, partition=partition)
            model[i] = (partition, encoder.encode(POOL[a]), n)
            seen.append(i)
        elif op == "get":
            hit = cache.get(POOL[a], partition=partition)
            best = ranked(a, partition)[:1]
            assert ([(hit.distance, hit.id)] if hit else []) == best
            if hit:
                assert hit.response == model[hit.id][2]
        elif op == "search":
            found = cache.search(POOL[a], k=3, partition=partition)
            assert [(h.distance, h.id) for h in found] == ranked(a, partition)[:3]
        elif op == "delete" and seen:
            i = seen[a % len(seen)]
            assert cache.delete(i) == (i in model)
            model.pop(i, None)
        elif op == "clear":
            target = None if a == 3 else str(a)
            removed = [i for i, (p, _, _) in model.items() if target is None or p == target]
            assert cache.clear(partition=target) == len(removed)
            for i in removed:
                del model[i]
        assert len(cache) == len(model)
