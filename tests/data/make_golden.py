"""Writes tests/data/golden-v2: a cache directory in format version 2 that must keep loading.

Run only when the format version changes, after pointing GOLDEN at the new version's directory
(older directories, such as golden-v1 from version 1, stay as they were written):
    .venv/bin/python tests/data/make_golden.py
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from binary_semantic_cache import BinaryEncoder, BinarySemanticCache

GOLDEN = Path(__file__).parent / "golden-v2"
DIM = 16


def vectors() -> np.ndarray:
    return np.random.default_rng(2024).standard_normal((6, DIM)).astype(np.float32)


# (partition, response): one of each response kind, in two partitions.
ENTRIES = [
    ("", "Paris is the capital of France."),
    ("", b"\x00\x01 raw bytes \xff"),
    ("tenant-a", {"answer": 42, "sources": ["a", "b"], "nested": {"ok": True}}),
    ("tenant-a", ["list", 1, 2.5, None]),
    ("tenant-b", "ünïcødé ✓"),
    ("tenant-b", "expires in 2100"),
]


def main() -> None:
    shutil.rmtree(GOLDEN, ignore_errors=True)
    encoder = BinaryEncoder(DIM, code_bits=128, seed=7)
    cache = BinarySemanticCache(encoder, path=GOLDEN, rescore=True, durability="manual")
    xs = vectors()
    for i, (partition, response) in enumerate(ENTRIES[:4]):
        cache.put(xs[i], response, partition=partition)
    cache.save()  # four entries in the snapshot, two in the log after it
    cache.put(xs[4], ENTRIES[4][1], partition=ENTRIES[4][0])
    cache.put(xs[5], ENTRIES[5][1], partition=ENTRIES[5][0], ttl_seconds=2_400_000_000)
    cache.flush()
    del cache
    (GOLDEN / "LOCK").unlink()


if __name__ == "__main__":
    main()
