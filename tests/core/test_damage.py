"""Damage to a cache directory is refused, never a silent loss (issue 15's acceptance test).

A small directory (a snapshot and a log of more than 50 records: puts in three partitions, some
with a TTL, and deletes) is damaged in every way below, one variant at a time: each single-byte
flip at every offset of every file, each cut at every length, garbage appended, each file
deleted. Every variant must either raise CorruptCacheError / UnsupportedFormatError (and then a
writer opening it changes none of its bytes), or open with exactly the entries the last
completed flush() acknowledged.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from binary_semantic_cache import (
    BinaryEncoder,
    BinarySemanticCache,
    CorruptCacheError,
    UnsupportedFormatError,
)

DIM = 16
PARTITIONS = ("", "tenant-a", "tenant-b")
REFUSED = (CorruptCacheError, UnsupportedFormatError)

# id -> (partition, vector, response) of every acknowledged entry.
Expected = dict[int, tuple[str, npt.NDArray[np.float32], str]]


def build(path: Path) -> tuple[dict[str, bytes], Expected]:
    """Writes the directory; returns its files' bytes and the entries a flush acknowledged."""
    xs = np.random.default_rng(15).standard_normal((60, DIM)).astype(np.float32)
    cache = BinarySemanticCache(
        BinaryEncoder(DIM, code_bits=64, seed=3), path=path, durability="manual"
    )
    expected: Expected = {}

    def put(i: int) -> None:
        partition = PARTITIONS[i % len(PARTITIONS)]
        ttl = 3600.0 if i % 4 == 0 else None
        response = f"answer {i}"
        expected[cache.put(xs[i], response, partition=partition, ttl_seconds=ttl)] = (
            partition,
            xs[i],
            response,
        )

    for i in range(12):
        put(i)
    cache.save()
    for i in range(12, 57):
        put(i)
        if i % 6 == 0:  # a delete record after every sixth put, from the snapshot or the log
            victim = sorted(expected)[i % len(expected)]
            assert cache.delete(victim)
            del expected[victim]
    cache.flush()
    files = {f.name: f.read_bytes() for f in path.iterdir()}
    cache.close()
    return files, expected


def variants(files: dict[str, bytes]) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(label, the directory's files) for every kind of damage."""
    garbage = random.Random(15).randbytes(64)
    for name, original in files.items():
        for offset in range(len(original)):
            flipped = bytearray(original)
            flipped[offset] ^= 0xFF
            yield f"{name}: byte {offset} flipped", {**files, name: bytes(flipped)}
        for length in range(len(original)):
            yield f"{name}: cut to {length} bytes", {**files, name: original[:length]}
        for n in (1, 11, 12, 13, 64):
            yield f"{name}: {n} bytes appended", {**files, name: original + garbage[:n]}
        yield f"{name}: deleted", {k: v for k, v in files.items() if k != name}


def contents(path: Path) -> dict[str, bytes]:
    # A writer may create LOCK (empty); it holds no data.
    return {f.name: f.read_bytes() for f in path.iterdir() if f.name != "LOCK"}


def lost_entries(cache: BinarySemanticCache, expected: Expected) -> list[str]:
    """What differs from the acknowledged entries: missing, extra or changed."""
    ids = set(cache.ids())
    problems = [f"entry {i} missing" for i in expected.keys() - ids]
    problems += [f"entry {i} never acknowledged" for i in ids - expected.keys()]
    for id_, (partition, vector, response) in expected.items():
        hit = cache.get(vector, partition=partition)
        if hit is None or hit.id != id_ or hit.response != response:
            problems.append(f"entry {id_} not served as written")
    return problems


def test_every_damage_is_refused_or_loses_nothing(tmp_path: Path) -> None:
    files, expected = build(tmp_path / "original")
    assert {"snapshot.bsc", "log.bsc"} <= files.keys()
    work = tmp_path / "work"
    work.mkdir(mode=0o700)
    tried = refused = lossy = 0
    losses: list[str] = []
    for label, variant in variants(files):
        tried += 1
        for f in work.iterdir():
            f.unlink()
        for name, data in variant.items():
            (work / name).write_bytes(data)
        try:
            reader = BinarySemanticCache(path=work, read_only=True)
        except REFUSED:
            refused += 1
            before = contents(work)
            with pytest.raises(REFUSED):
                BinarySemanticCache(path=work)
            assert contents(work) == before, f"{label}: a writer's failed open changed the files"
            continue
        with reader:
            problems = lost_entries(reader, expected)
        lossy += bool(problems)
        losses += [f"{label}: {problem}" for problem in problems]
    print(
        f"\ndamage variants tried: {tried}, refused: {refused}, "
        f"opened intact: {tried - refused - lossy}, silent losses: {lossy}"
    )
    assert tried >= 500
    assert not losses, "\n".join(losses[:20])
