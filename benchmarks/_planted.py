"""A large persisted cache of random embeddings with queries planted in it, and the same codes for
faiss: what benchmarks/scale.py and benchmarks/batch.py share."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
FAISS_PYTHON = ROOT / ".bench-venv" / "gptcache" / "bin" / "python"
DIM = 384
BITS = 256
FILL = 100_000  # rows per put_batch
NOISE = (0.02, 0.05, 0.1)  # per-coordinate noise of near-duplicates: about 2, 4 and 8 bits flipped

Found = list[tuple[int, int] | None]  # (entry id, distance) per query, or None


@dataclass
class Filled:
    ids: npt.NDArray[np.int64]  # the entry id of each row of codes.npy
    put_s: float  # seconds spent in put_batch
    sources: npt.NDArray[np.float32]  # stored rows (not planted ones) picked as query sources


def fill(
    cache: Any,
    encoder: Any,
    n: int,
    work: Path,
    rng: np.random.Generator,
    sources: int,
    planted: npt.NDArray[np.float32] | None = None,
) -> Filled:
    """Puts `n` random embeddings (with `planted` spread among them) into `cache` and writes their
    codes to `work`/codes.npy."""
    codes = np.lib.format.open_memmap(
        work / "codes.npy", mode="w+", dtype=np.uint64, shape=(n, BITS // 64)
    )
    planted = np.empty((0, DIM), dtype=np.float32) if planted is None else planted
    ids = np.empty(n, dtype=np.int64)
    batches = -(-n // FILL)
    per_batch = -(-len(planted) // batches)
    picked: list[npt.NDArray[np.float32]] = []
    put_s = 0.0
    for b, start in enumerate(range(0, n, FILL)):
        rows = rng.standard_normal((min(FILL, n - start), DIM), dtype=np.float32)
        here = planted[b * per_batch : (b + 1) * per_batch]
        rows[: len(here)] = here
        picked.extend(rows[rng.integers(len(here), len(rows), -(-sources // batches))])
        t = time.perf_counter()
        ids[start : start + len(rows)] = cache.put_batch(rows, [b"x"] * len(rows))
        put_s += time.perf_counter() - t
        codes[start : start + len(rows)] = encoder.encode_batch(rows)
    codes.flush()
    return Filled(ids, put_s, np.array(picked[:sources]))


def load_codes(index: Any, codes_path: str) -> None:
    """Adds codes.npy to a faiss binary index, a million rows at a time."""
    codes = np.load(codes_path, mmap_mode="r")
    for start in range(0, len(codes), 1_000_000):
        index.add(np.ascontiguousarray(codes[start : start + 1_000_000]).view(np.uint8))


def near_duplicates(
    sources: npt.NDArray[np.float32], rng: np.random.Generator
) -> npt.NDArray[np.float32]:
    noise = np.resize(np.array(NOISE, dtype=np.float32), len(sources))[:, None]
    return sources + noise * rng.standard_normal(sources.shape, dtype=np.float32)


def radius_for(threshold: float) -> int:
    """The largest distance whose estimated cosine passes `threshold`."""
    return max(d for d in range(BITS + 1) if np.cos(np.pi * d / BITS) >= threshold)


def ask_faiss(
    faiss_python: Path, script: str, work: Path, query_codes: npt.NDArray[np.uint64], radius: int
) -> dict[str, Any]:
    """Runs `script --worker codes queries radius` in the benchmark environment that has faiss."""
    np.save(work / "queries.npy", query_codes)
    args = [str(work / "codes.npy"), str(work / "queries.npy"), str(radius)]
    proc = subprocess.run(
        [str(faiss_python), script, "--worker", *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    reply: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return reply


def entry_ids(found: list[Any], ids: npt.NDArray[np.int64]) -> Found:
    """faiss's (row, distance) answers as (entry id, distance)."""
    return [None if f is None else (int(ids[f[0]]), int(f[1])) for f in found]
