"""What the default verifier looks at in a pair of questions: a few numbers, each in about 0..1.

- the two questions' cosine (float, pooled), as the cache saw it before the codes;
- token alignment (late interaction): every word piece of one question is matched with its most
  similar piece of the other, by MiniLM's own token vectors before pooling. The IDF-weighted mean
  of those best matches, each way, says how much of each question the other covers; the worst
  match among content pieces says whether some word found no partner at all;
- content words on one side only, weighted by IDF (rare words carry the meaning);
- the precision guards' verdicts: the ask check apart, every other check together.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from binary_semantic_cache.embeddings.default import TokenVectors
from binary_semantic_cache.guards import ALL_CHECKS, PrecisionGuards

__all__ = ["FEATURES", "pair_features"]

FEATURES: tuple[str, ...] = (
    "cosine",
    "cosine_squared",
    "coverage_min",
    "coverage_max",
    "worst_match",
    "worst_match_squared",
    "unshared_idf_share",
    "unshared_idf",
    "ask_refused",
    "guards_refused",
    "length_gap",
)
# Pieces at least this rare are content words (the IDF of "the", "what", "?" is below 2).
_CONTENT_IDF = 2.5
_ASK = PrecisionGuards(["ask"])
_OTHER_GUARDS = PrecisionGuards([c for c in ALL_CHECKS if c != "ask"])


def _idf(tokens: tuple[str, ...], idf: Mapping[str, float], unseen: float) -> np.ndarray:
    return np.array([idf.get(t, unseen) for t in tokens], dtype=np.float64)


def pair_features(
    stored: str,
    new: str,
    stored_tokens: TokenVectors,
    new_tokens: TokenVectors,
    idf: Mapping[str, float],
    unseen_idf: float,
) -> np.ndarray:
    """The :data:`FEATURES` of one pair, in that order."""
    a, b = stored_tokens, new_tokens
    if not a.tokens or not b.tokens:
        return np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0])
    sims = a.vectors @ b.vectors.T
    best_a, best_b = sims.max(axis=1), sims.max(axis=0)
    w_a, w_b = _idf(a.tokens, idf, unseen_idf), _idf(b.tokens, idf, unseen_idf)
    cover_a = float(best_a @ w_a / w_a.sum())
    cover_b = float(best_b @ w_b / w_b.sum())
    content = np.r_[best_a[w_a >= _CONTENT_IDF], best_b[w_b >= _CONTENT_IDF]]
    cosine = float(a.vector @ b.vector)
    worst = float(content.min()) if len(content) else 1.0
    only = set(a.tokens) ^ set(b.tokens)
    unshared = sum(idf.get(t, unseen_idf) for t in only if idf.get(t, unseen_idf) >= _CONTENT_IDF)
    total = sum(idf.get(t, unseen_idf) for t in set(a.tokens) | set(b.tokens))
    return np.array(
        [
            cosine,
            cosine * cosine,  # the chance of a duplicate rises faster near the top
            min(cover_a, cover_b),
            max(cover_a, cover_b),
            worst,
            worst * worst,
            unshared / max(total, 1e-9),
            min(1.0, unshared / 20.0),
            float(_ASK.check(new, stored) is not None),
            float(_OTHER_GUARDS.check(new, stored) is not None),
            abs(len(a.tokens) - len(b.tokens)) / max(len(a.tokens), len(b.tokens)),
        ]
    )
