"""The workload shared by the core and persistence benchmarks, run in a fresh process per cache so
each one's memory is measured from the same starting point.

Embeddings are drawn in chunks from a seeded generator into one reused buffer, so N = 1M at 1536
dimensions never holds all vectors at once. Responses are 100 distinct bytes of text each.
"""

from __future__ import annotations

import gc
import sys
import time
import types
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

CHUNK = 10_000
RESPONSE_BYTES = 100
LOOKUPS = 1_000


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def chunks(
    n: int, dim: int, seed: int = 0, buf: np.ndarray | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """(start, unit vectors) for rows start..start+len, drawn into one reused buffer."""
    rng = np.random.default_rng(seed)
    if buf is None:
        buf = np.empty((CHUNK, dim), dtype=np.float32)
    for start in range(0, n, CHUNK):
        rows = min(CHUNK, n - start)
        view = buf[:rows]
        rng.standard_normal(out=view, dtype=np.float32)
        # einsum keeps the temporaries to one value per row, so no large block is left to the
        # allocator and counted as the cache's memory.
        view /= np.sqrt(np.einsum("ij,ij->i", view, view))[:, None]
        yield start, view


def response(i: int, size: int = RESPONSE_BYTES) -> str:
    """Response number ``i``, ``size`` bytes long (its number's last digits when shorter)."""
    tag = f"{i:010d}"
    return tag[len(tag) - size :] if size < len(tag) else tag + "r" * (size - len(tag))


def percentiles_ms(samples_ns: list[int]) -> tuple[float, float]:
    arr = np.array(samples_ns) / 1e6
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))


class Adapter:
    """What a benchmarked cache must offer."""

    batch: bool = False

    def put(self, v: np.ndarray, r: str) -> None:
        raise NotImplementedError

    def put_batch(self, vs: np.ndarray, rs: list[str]) -> None:
        raise NotImplementedError

    def get(self, v: np.ndarray) -> Any:
        raise NotImplementedError

    def encode(self, v: np.ndarray) -> Any:
        raise NotImplementedError


class Ours(Adapter):
    batch = True

    def __init__(self, dim: int, n: int, threshold: float) -> None:
        from binary_semantic_cache import BinaryEncoder, BinarySemanticCache

        self.encoder = BinaryEncoder(dim, code_bits=256)
        self.cache = BinarySemanticCache(
            self.encoder, max_entries=n, similarity_threshold=threshold
        )
        self.put = self.cache.put  # type: ignore[method-assign]
        self.put_batch = self.cache.put_batch  # type: ignore[method-assign]
        self.get = self.cache.get  # type: ignore[method-assign]
        self.encode = self.encoder.encode  # type: ignore[method-assign]


class PeerBinarySemanticCache(Adapter):
    """binary-semantic-cache 1.0.1 from PyPI (installed only in the benchmark environment)."""

    def __init__(self, dim: int, n: int, threshold: float) -> None:
        # Its encoder module imports modules from its author's other repository that the wheel
        # does not ship; the Rust path never uses them (see ../shared/PEERS.md).
        for name in (
            "src",
            "src.quantization",
            "src.quantization.binarization",
            "src.quantization.packing",
        ):
            module = types.ModuleType(name)
            module.RandomProjection = module.binarize_sign = module.pack_codes = None  # type: ignore[attr-defined]
            sys.modules.setdefault(name, module)
        from binary_semantic_cache import BinarySemanticCache, RustBinaryEncoder

        self.encoder = RustBinaryEncoder(dim, 256, seed=42)
        self.cache = BinarySemanticCache(
            self.encoder, max_entries=n, similarity_threshold=threshold
        )
        self.put = self.cache.put  # type: ignore[method-assign]
        self.get = self.cache.get  # type: ignore[method-assign]
        self.encode = self.encoder.encode  # type: ignore[method-assign]


ADAPTERS: dict[str, Callable[[int, int, float], Adapter]] = {
    "bsc": Ours,
    "binary-semantic-cache-1.0.1": PeerBinarySemanticCache,
}


def run_core(
    impl: str, dim: int, n: int, threshold: float = 0.85, response_bytes: int = RESPONSE_BYTES
) -> dict[str, Any]:
    """Fill a cache with n entries, then time lookups (hits and misses), puts and memory."""
    cache = ADAPTERS[impl](dim, n, threshold)
    # Warm the chunk buffer and the allocator before the memory baseline.
    # Warm the vector buffer and the code paths that draw vectors (their library pages count in
    # RSS when first touched) before the memory baseline.
    buf = np.empty((CHUNK, dim), dtype=np.float32)
    for _ in chunks(CHUNK, dim, seed=99, buf=buf):
        pass
    cache.put(buf[0], response(0, response_bytes))
    gc.collect()
    rss_before = rss_bytes()

    # Filled one put at a time for every cache, so the memory measured is the cache's and not
    # what a batch's Python lists leave to the allocator (batch speed is timed separately).
    single_ns = 0
    for start, block in chunks(n - 1, dim, buf=buf):
        t = time.perf_counter_ns()
        for i in range(len(block)):
            cache.put(block[i], response(start + i, response_bytes))
        single_ns += time.perf_counter_ns() - t
    gc.collect()
    rss_after = rss_bytes()
    hit_queries = next(chunks(LOOKUPS, dim))[1].copy()  # the first rows stored

    noise = next(chunks(LOOKUPS, dim, seed=7))[1]
    near = hit_queries + 0.05 * noise
    near /= np.linalg.norm(near, axis=1, keepdims=True)
    misses = next(chunks(LOOKUPS, dim, seed=11))[1].copy()

    def timed(queries: np.ndarray, fn: Callable[[np.ndarray], Any]) -> tuple[list[int], int]:
        samples, found = [], 0
        for q in queries:
            t = time.perf_counter_ns()
            r = fn(q)
            samples.append(time.perf_counter_ns() - t)
            found += r is not None
        return samples, found

    batch_rate = None
    if cache.batch:
        # Batch throughput on a second cache, so the fill above stays single puts where it can.
        fresh = ADAPTERS[impl](dim, n, threshold)
        count, elapsed = 0, 0
        for start, block in chunks(min(n, 100_000), dim, seed=3):
            rs = [response(start + i, response_bytes) for i in range(len(block))]
            t = time.perf_counter_ns()
            fresh.put_batch(block, rs)
            elapsed += time.perf_counter_ns() - t
            count += len(block)
        batch_rate = count / (elapsed / 1e9)
        del fresh

    hit_ns, hits = timed(near, cache.get)
    miss_ns, false_hits = timed(misses, cache.get)
    encode_ns, _ = timed(misses, cache.encode)
    single_count = n - 1
    return {
        "impl": impl,
        "dim": dim,
        "n": n,
        "hit_p50_ms": percentiles_ms(hit_ns)[0],
        "hit_p99_ms": percentiles_ms(hit_ns)[1],
        "hit_rate": hits / LOOKUPS,
        "miss_p50_ms": percentiles_ms(miss_ns)[0],
        "miss_p99_ms": percentiles_ms(miss_ns)[1],
        "false_hits": false_hits,
        "encode_p50_ms": percentiles_ms(encode_ns)[0],
        "single_put_per_s": single_count / (single_ns / 1e9) if single_ns else None,
        "batch_put_per_s": batch_rate,
        "bytes_per_entry": (rss_after - rss_before) / (n - 1) - response_bytes,
    }
