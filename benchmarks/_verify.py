"""The default verifier's features for many QQP pairs, computed once and kept on disk.

Token vectors need a model run per question (tens of minutes for all of QQP on two cores), so
the features of each list of pairs are kept under /tmp/verifier-cache (never in the
repository) in a .npy file named by a hash of the pairs and the model's IDF table.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

from binary_semantic_cache import guards
from binary_semantic_cache.embeddings import DefaultEmbedder
from binary_semantic_cache.verifier.features import pair_features
from binary_semantic_cache.verifier.model import VerifierModel

CACHE_DIR = Path("/tmp/verifier-cache")
# Halves of QQP: the verifier is fitted on even pair indices and measured on odd ones.
FIT, HELD_OUT = 0, 1


def half(n: int, which: int) -> npt.NDArray[np.bool_]:
    return np.arange(n) % 2 == which


def features(
    stored: list[str], new: list[str], model: VerifierModel, chunk: int = 2048
) -> npt.NDArray[np.float64]:
    """``pair_features`` of every (stored[i], new[i]), from the disk cache when present."""
    # The guards' code is a feature too: a changed check gives a new file.
    code = [p.read_text() for p in sorted(Path(guards.__file__).parent.glob("*.py"))]
    code.append(Path(pair_features.__code__.co_filename).read_text())
    key = hashlib.sha256(
        json.dumps([stored, new, sorted(model.idf.items()), model.unseen_idf, code]).encode()
    ).hexdigest()[:20]
    path = CACHE_DIR / f"features-{key}.npy"
    if path.exists():
        return np.load(path)
    embedder = DefaultEmbedder()
    out = np.empty((len(stored), len(model.weights)))
    started = time.perf_counter()
    for start in range(0, len(stored), chunk):
        s, q = stored[start : start + chunk], new[start : start + chunk]
        texts = sorted(set(s) | set(q))
        tokens = dict(zip(texts, embedder.token_vectors(texts), strict=True))
        for i, (a, b) in enumerate(zip(s, q, strict=True)):
            out[start + i] = pair_features(a, b, tokens[a], tokens[b], model.idf, model.unseen_idf)
        print(
            f"#   verifier features {min(start + chunk, len(stored)):,}/{len(stored):,} "
            f"({time.perf_counter() - started:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    np.save(path, out)
    return out


# Below this 256-bit similarity the verifier is never asked (every threshold tried is above).
FLOOR = 0.80


def scored_pairs(
    a: list[str],
    b: list[str],
    pair_sims: npt.NDArray[np.float64],
    best: npt.NDArray[np.float64],
    arg: npt.NDArray[np.int64],
) -> list[tuple[str, str]]:
    """Every (stored, new) the benchmarks ask the verifier about: each pair above FLOOR, and each
    lookup's nearest stored question above FLOOR in the cache protocol. One list, so fitting and
    measuring share one disk cache."""
    wanted = {(a[i], b[i]) for i in np.flatnonzero(pair_sims >= FLOOR)}
    wanted |= {(a[int(arg[i])], b[i]) for i in np.flatnonzero(best >= FLOOR)}
    return sorted(wanted)


def probabilities(
    model: VerifierModel, wanted: list[tuple[str, str]]
) -> dict[tuple[str, str], float]:
    x = features([s for s, _ in wanted], [q for _, q in wanted], model)
    return {pair: model.probability(row) for pair, row in zip(wanted, x, strict=True)}
