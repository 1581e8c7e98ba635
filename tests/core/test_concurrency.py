"""Eight threads doing mixed get/put/delete for two seconds: no crash, no deadlock, and the
counts add up."""

from __future__ import annotations

import threading
import time

import numpy as np

from binary_semantic_cache import BinaryEncoder, BinarySemanticCache

from .conftest import DIM, unit


def test_eight_threads_mixed_operations() -> None:
    cache = BinarySemanticCache(BinaryEncoder(DIM), max_entries=2000, similarity_threshold=0.9)
    pool = unit(np.random.default_rng(0), 512)
    gets = [0] * 8
    errors: list[BaseException] = []
    deadline = time.monotonic() + 2.0

    def work(t: int) -> None:
        rng = np.random.default_rng(t)
        ids: list[int] = []
        try:
            while time.monotonic() < deadline:
                op = rng.integers(10)
                v = pool[rng.integers(len(pool))]
                partition = "ab"[int(rng.integers(2))]
                if op < 6:
                    cache.get(v, partition=partition)
                    gets[t] += 1
                elif op < 9:
                    ids.append(cache.put(v, {"t": t}, partition=partition))
                elif ids:
                    cache.delete(ids.pop())
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    assert not any(th.is_alive() for th in threads), "a thread is stuck"
    assert errors == []
    stats = cache.stats()
    assert stats["hits"] + stats["misses"] == sum(gets)
    assert stats["hits"] > 0 and stats["misses"] > 0
    assert stats["entries"] == len(cache) <= 2000
    assert stats["inserts"] == (
        stats["entries"] + stats["evictions"] + stats["expirations"] + stats["deletes"]
    )
