"""calibrate(): the threshold it picks keeps the precision it promises, on made-up and QQP pairs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from binary_semantic_cache.calibrate import Calibration, calibrate, pair_similarities
from binary_semantic_cache.embeddings import DefaultEmbedder
from binary_semantic_cache.guards import PrecisionGuards

DIM = 64


class CosineEmbedder:
    """Texts "stored <i>" and "query <i> <cosine>": the query lies at that cosine from stored i."""

    dim = DIM
    model_id = "test:cosine"

    def __init__(self) -> None:
        rng = np.random.default_rng(5)
        self.base = rng.standard_normal((1000, DIM))
        self.side = rng.standard_normal((1000, DIM))

    def _vector(self, text: str) -> np.ndarray:
        parts = text.split()
        i = int(parts[1])
        u = self.base[i] / np.linalg.norm(self.base[i])
        if parts[0] == "stored":
            return u
        w = self.side[i] - (self.side[i] @ u) * u
        c = float(parts[2])
        return c * u + np.sqrt(1 - c * c) * w / np.linalg.norm(w)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([self._vector(t) for t in texts], dtype=np.float32)

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(texts)


def pairs_at(cosines: Sequence[float], labels: Sequence[bool]) -> list[tuple[str, str, bool]]:
    return [
        (f"stored {i}", f"query {i} {c}", lab)
        for i, (c, lab) in enumerate(zip(cosines, labels, strict=True))
    ]


def test_separable_pairs_get_a_threshold_between_the_two_groups() -> None:
    rng = np.random.default_rng(0)
    dup = rng.uniform(0.94, 0.99, 100)
    non = rng.uniform(0.40, 0.88, 100)
    pairs = pairs_at([*dup, *non], [True] * 100 + [False] * 100)
    embedder = CosineEmbedder()
    result = calibrate(pairs, target_precision=1.0, embedder=embedder, rescore=True)
    assert isinstance(result, Calibration)
    assert non.max() < result.threshold < dup.min()
    assert (result.precision, result.hit_rate, result.false_hit_rate) == (1.0, 1.0, 0.0)
    assert (result.pairs, result.duplicates, result.guard_refusals) == (200, 100, 0)
    # A lower target buys nothing here but admits the closest non-duplicates.
    looser = calibrate(pairs, target_precision=0.95, embedder=embedder, rescore=True)
    assert looser.threshold < result.threshold and looser.precision >= 0.95


def test_overlapping_pairs_keep_the_target_at_the_loosest_threshold() -> None:
    rng = np.random.default_rng(1)
    dup = rng.uniform(0.80, 0.99, 300)
    non = rng.uniform(0.50, 0.92, 300)
    pairs = pairs_at([*dup, *non], [True] * 300 + [False] * 300)
    embedder = CosineEmbedder()
    result = calibrate(pairs, target_precision=0.9, embedder=embedder, rescore=True)
    sims = pair_similarities(
        embedder.embed([p[0] for p in pairs]), embedder.embed([p[1] for p in pairs]), rescore=True
    )
    label = np.array([p[2] for p in pairs])
    served = sims >= result.threshold
    assert result.precision == pytest.approx((served & label).sum() / served.sum())
    assert result.precision >= 0.9
    assert result.hit_rate == pytest.approx((served & label).sum() / 300)
    # One step looser (the next similarity below) would fall under the target.
    looser = sims[sims < result.threshold].max()
    more = sims >= looser
    assert (more & label).sum() / more.sum() < 0.9 or looser < 0.85


def test_binary_codes_are_scored_as_the_core_scores_them() -> None:
    rng = np.random.default_rng(2)
    a = rng.standard_normal((50, DIM)).astype(np.float32)
    b = a + 0.3 * rng.standard_normal((50, DIM)).astype(np.float32)
    bits = 256
    sims = pair_similarities(a, b, code_bits=bits)
    # The estimated cosine takes only the values cos(pi * d / bits).
    d = np.arccos(np.clip(sims, -1, 1)) * bits / np.pi
    assert np.allclose(d, np.round(d), atol=1e-6)
    exact = np.einsum("ij,ij->i", a, b) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert np.abs(sims - exact).mean() < 0.05
    rescored = pair_similarities(a, b, code_bits=bits, rescore=True)
    assert np.abs(rescored - exact).max() < 0.01


def test_guards_refuse_what_the_threshold_would_serve() -> None:
    # Non-duplicates as close as duplicates, but each asks about another year.
    pairs = [(f"stored {i}", f"query {i} 0.97", True) for i in range(50)]
    pairs += [(f"stored {i} in 2023", f"query {i} 0.97 in 2024", False) for i in range(50, 100)]
    embedder = CosineEmbedder()
    with pytest.raises(ValueError, match=r"no threshold reaches precision 0\.950"):
        calibrate(pairs, embedder=embedder, rescore=True)
    result = calibrate(pairs, embedder=embedder, rescore=True, guards=PrecisionGuards())
    assert (result.precision, result.hit_rate, result.guard_refusals) == (1.0, 1.0, 50)


@pytest.mark.parametrize(
    ("pairs", "target", "message"),
    [
        ([], 0.95, "at least one labelled pair"),
        ([("stored 0", "query 0 0.9", False)], 0.95, "at least one pair labelled True"),
        ([("stored 0", "query 0 0.9", True)], 0.0, "target_precision must be in"),
        ([("stored 0", "query 0 0.9", True)], 1.5, "target_precision must be in"),
    ],
)
def test_bad_input_says_what_was_expected(
    pairs: list[tuple[str, str, bool]], target: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        calibrate(pairs, target_precision=target, embedder=CosineEmbedder())


def test_pair_similarities_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="expected two \\(n, dim\\) arrays of one shape"):
        pair_similarities(np.ones((3, 8)), np.ones((2, 8)))


def test_calibrates_the_default_embedder_on_qqp(qqp_sample: list[tuple[str, str, bool]]) -> None:
    embedder = DefaultEmbedder()
    loose = calibrate(qqp_sample, target_precision=0.75, embedder=embedder)
    strict = calibrate(qqp_sample, target_precision=0.9, embedder=embedder)
    assert 0.5 < loose.threshold < strict.threshold < 1.0
    assert loose.precision >= 0.75 and strict.precision >= 0.9
    assert loose.hit_rate > strict.hit_rate > 0.0
    guarded = calibrate(
        qqp_sample, target_precision=0.75, embedder=embedder, guards=PrecisionGuards()
    )
    assert guarded.precision >= 0.75 and guarded.guard_refusals > 0
