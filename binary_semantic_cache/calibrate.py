"""Choose ``similarity_threshold`` from your own labelled question pairs.

Give :func:`calibrate` pairs of questions labelled "one answer serves both" (``True``) or not, and
the precision you need; it scores every pair as the cache would (same embedder, code size,
re-scoring and precision guards) and returns the loosest threshold that keeps that precision,
with the precision and hit rate to expect. :func:`calibrate_verifier` refits the default
verifier's probabilities on the same kind of pairs, for the error-bounded mode.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from binary_semantic_cache._core import DEFAULT_SEED, BinaryEncoder, BinarySemanticCache
from binary_semantic_cache.embeddings.base import Embedder
from binary_semantic_cache.guards import PrecisionGuards

if TYPE_CHECKING:
    from binary_semantic_cache.verifier import DefaultVerifier
    from binary_semantic_cache.verifier.model import VerifierModel

__all__ = ["Calibration", "calibrate", "calibrate_verifier", "pair_similarities"]


@dataclass(frozen=True)
class Calibration:
    """What :func:`calibrate` found.

    Attributes:
        threshold: The ``similarity_threshold`` to use.
        precision: Served hits that were right (label ``True``), over all served hits, on the pairs.
        hit_rate: Pairs labelled ``True`` that the cache would serve from the other question.
        false_hit_rate: Pairs labelled ``False`` that it would wrongly serve.
        guard_refusals: Pairs at or above the threshold that the precision guards refused.
        pairs: Pairs scored.
        duplicates: Pairs labelled ``True``.
    """

    threshold: float
    precision: float
    hit_rate: float
    false_hit_rate: float
    guard_refusals: int
    pairs: int
    duplicates: int


def pair_similarities(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    code_bits: int = 256,
    rescore: bool = False,
    seed: int = DEFAULT_SEED,
) -> npt.NDArray[np.float64]:
    """The similarity the cache reports between ``a[i]`` stored and ``b[i]`` looked up.

    Each pair is scored by the compiled core itself (one partition per pair), so the figures are
    the core's: the cosine estimated from Hamming distance, or with ``rescore`` the cosine
    against the stored int8 vector. Similarities below 0 are reported as 0.

    Example:
        .. code-block:: python

            import numpy as np
            from binary_semantic_cache.calibrate import pair_similarities

            rng = np.random.default_rng(0)
            a = rng.standard_normal((3, 384)).astype(np.float32)
            pair_similarities(a, a)  # array([1., 1., 1.])
    """
    va = np.ascontiguousarray(a, dtype=np.float32)
    vb = np.ascontiguousarray(b, dtype=np.float32)
    if va.ndim != 2 or va.shape != vb.shape:
        raise ValueError(
            f"expected two (n, dim) arrays of one shape, got {va.shape} and {vb.shape}"
        )
    encoder = BinaryEncoder(va.shape[1], code_bits=code_bits, seed=seed)
    cache = BinarySemanticCache(
        encoder, max_entries=max(1, len(va)), similarity_threshold=0.0, rescore=rescore
    )
    out = np.zeros(len(va), dtype=np.float64)
    for i in range(len(va)):
        cache.put(va[i], b"", partition=str(i))
        found = cache.search(vb[i], k=1, partition=str(i), min_similarity=0.0)
        if found:
            out[i] = found[0].similarity
    return out


def calibrate(
    pairs: Iterable[tuple[str, str, bool | int]],
    target_precision: float = 0.95,
    embedder: Embedder | None = None,
    code_bits: int = 256,
    rescore: bool = False,
    guards: PrecisionGuards | None = None,
) -> Calibration:
    """The loosest threshold whose hits keep ``target_precision`` on labelled pairs.

        For each pair the first question is the stored one and the second the lookup. A pair is
        served when its similarity reaches the threshold and ``guards`` (if given) allow it. The
        threshold returned is the lowest at which precision stays at or above the target for every
        stricter threshold too, so a lucky dip in the data does not pick it; it lies halfway between
        two observed similarities. Raises ``ValueError`` if no threshold reaches the target.

        Args:
            pairs: ``(stored question, new question, one answer serves both)``.
            target_precision: The share of served hits that must be right, in (0, 1].
            embedder: The embedder the cache will use (default: :class:`DefaultEmbedder`).
            code_bits: The code size the cache will use.
            rescore: Whether the cache will re-score candidates with stored vectors.
            guards: The precision guards the cache will apply, if any.

        Example:
            .. code-block:: python

                from binary_semantic_cache.calibrate import calibrate
                from binary_semantic_cache.guards import PrecisionGuards

    if TYPE_CHECKING:
        from binary_semantic_cache.verifier import DefaultVerifier
        from binary_semantic_cache.verifier.model import VerifierModel

                pairs = [
                    ("How do I reset my password?", "I forgot my password, what now?", True),
                    ("How do I reset my password?", "How do I change my username?", False),
                    # ... a few hundred pairs from your own traffic
                ]
                result = calibrate(pairs, target_precision=0.95, guards=PrecisionGuards())
                print(result.threshold, result.precision, result.hit_rate)
    """
    if not 0.0 < target_precision <= 1.0:
        raise ValueError(f"target_precision must be in (0, 1], got {target_precision}")
    rows = list(pairs)
    if not rows:
        raise ValueError("expected at least one labelled pair, got none")
    stored = [r[0] for r in rows]
    queries = [r[1] for r in rows]
    label = np.array([bool(r[2]) for r in rows])
    if not label.any():
        raise ValueError("expected at least one pair labelled True (a duplicate), got none")
    if embedder is None:
        from binary_semantic_cache.embeddings.default import DefaultEmbedder

        embedder = DefaultEmbedder()
    sims = pair_similarities(
        embedder.embed(stored), embedder.embed(queries), code_bits=code_bits, rescore=rescore
    )
    allowed = np.ones(len(rows), dtype=bool)
    if guards is not None:
        allowed = np.array(
            [guards.check(q, s) is None for s, q in zip(stored, queries, strict=True)]
        )

    # Served pairs at threshold t are those with sim >= t: walk the similarities downwards.
    order = np.argsort(-sims, kind="stable")
    s_sorted = sims[order]
    served = allowed[order]
    good = np.cumsum(served & label[order])
    bad = np.cumsum(served & ~label[order])
    last = np.r_[s_sorted[1:] != s_sorted[:-1], True]  # the last row of each distinct similarity
    idx = np.flatnonzero(last & ((good + bad) > 0))
    if len(idx) == 0:
        raise ValueError("the guards refused every pair; no threshold can be chosen")
    precision = good[idx] / (good[idx] + bad[idx])
    # Lowest threshold whose precision, and that of every stricter one, reaches the target.
    ok_from_top = np.cumprod(precision >= target_precision).astype(bool)
    if not ok_from_top.any():
        raise ValueError(
            f"no threshold reaches precision {target_precision:.3f} on these pairs "
            f"(the strictest gives {precision[0]:.3f}); label more pairs or lower the target"
        )
    pick = idx[np.flatnonzero(ok_from_top)[-1]]
    below = s_sorted[pick + 1] if pick + 1 < len(s_sorted) else s_sorted[pick] - 1e-3
    threshold = float((s_sorted[pick] + below) / 2)
    hits = sims >= threshold
    served_all = hits & allowed
    duplicates = int(label.sum())
    tp = int((served_all & label).sum())
    fp = int((served_all & ~label).sum())
    return Calibration(
        threshold=threshold,
        precision=tp / (tp + fp),
        hit_rate=tp / duplicates,
        false_hit_rate=fp / max(1, len(rows) - duplicates),
        guard_refusals=int((hits & ~allowed).sum()),
        pairs=len(rows),
        duplicates=duplicates,
    )


def calibrate_verifier(
    pairs: Iterable[tuple[str, str, bool | int]], verifier: DefaultVerifier | None = None
) -> VerifierModel:
    """The default verifier's model refitted on your labelled pairs, so that its score is the
    probability that one answer serves both *on your traffic* (what ``max_wrong_rate`` bounds).

    Give pairs above the similarity threshold you use, of both kinds, a few hundred at least; the
    IDF table is kept. Use the result as ``DefaultVerifier(model)``, or save ``.to_json()`` and
    load it with ``DefaultVerifier.from_file``. Raises ``ValueError`` without pairs of both kinds.

    Example:
        .. code-block:: python

            from binary_semantic_cache.calibrate import calibrate_verifier
            from binary_semantic_cache.verifier import DefaultVerifier

            pairs = [
                ("When was Acme founded?", "In what year was Acme founded?", True),
                ("When was Acme founded?", "Who founded Acme?", False),
                # ... a few hundred pairs from your own traffic
            ]
            verifier = DefaultVerifier(calibrate_verifier(pairs))
    """
    from binary_semantic_cache.verifier import DefaultVerifier

    rows = list(pairs)
    chosen = verifier if verifier is not None else DefaultVerifier()
    x = np.array([chosen.features(r[0], r[1]) for r in rows]).reshape(len(rows), -1)
    label = np.array([bool(r[2]) for r in rows], dtype=bool)
    return chosen.model.with_fit(x, label, fitted_on="calibrate_verifier", pairs=len(rows))
