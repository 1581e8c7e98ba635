"""The labelled QQP pairs (../shared/data/qqp-dev.jsonl.gz) and their cached embeddings.

The data is read from the shared directory, never copied into the repository. Embedding all
pairs with the default model takes a few minutes on two cores, so the vectors are kept under
benchmarks/results/ (git-ignored) in a .npy file named by a hash of the data file and the model
id; a changed data file or model gives a new file.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from binary_semantic_cache.embeddings import Embedder

ROOT = Path(__file__).resolve().parent.parent
QQP_PATH = ROOT.parent / "shared" / "data" / "qqp-dev.jsonl.gz"
RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Pairs:
    a: list[str]
    b: list[str]
    label: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.a)


def missing_data_message(path: Path) -> str:
    return (
        f"QQP data not found at {path}. It is read from the shared data directory "
        "(../shared/data/qqp-dev.jsonl.gz beside the repository; see ../shared/data/README.md) "
        "and is never copied into the repository."
    )


def load_pairs(path: Path = QQP_PATH, limit: int | None = None) -> Pairs:
    """The pairs in file order; exits with a clear message when the file is missing."""
    if not path.exists():
        sys.exit(missing_data_message(path))
    a: list[str] = []
    b: list[str] = []
    label: list[bool] = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            a.append(row["a"])
            b.append(row["b"])
            label.append(bool(row["label"]))
            if limit is not None and len(a) >= limit:
                break
    return Pairs(a, b, np.array(label, dtype=bool))


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def embed_pairs(
    pairs: Pairs, embedder: Embedder, path: Path = QQP_PATH, limit: int | None = None
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Unit vectors of every a and b, from the cache file of the whole data set when present.

    A sample (``limit``) is sliced from that file if it exists, else embedded and not cached.
    """
    slug = re.sub(r"[^A-Za-z0-9.-]+", "_", embedder.model_id)
    cache_file = RESULTS_DIR / f"qqp-{file_digest(path)}-{slug}.npy"
    if cache_file.exists():
        both = np.load(cache_file, mmap_mode="r")
        if both.shape[1] >= len(pairs) and both.shape[2] == embedder.dim:
            return np.array(both[0, : len(pairs)]), np.array(both[1, : len(pairs)])
    texts = sorted(set(pairs.a) | set(pairs.b))
    index = {t: i for i, t in enumerate(texts)}
    print(
        f"# embedding {len(texts):,} distinct questions with {embedder.model_id} ...",
        file=sys.stderr,
        flush=True,
    )
    t0 = time.perf_counter()
    vectors = np.empty((len(texts), embedder.dim), dtype=np.float32)
    step = 2048
    for start in range(0, len(texts), step):
        vectors[start : start + step] = embedder.embed(texts[start : start + step])
        if limit is None:
            print(
                f"#   {min(start + step, len(texts)):,}/{len(texts):,} "
                f"({time.perf_counter() - t0:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
    va = vectors[[index[t] for t in pairs.a]]
    vb = vectors[[index[t] for t in pairs.b]]
    if limit is None:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(".tmp.npy")
        np.save(tmp, np.stack([va, vb]))
        tmp.replace(cache_file)
    return va, vb
