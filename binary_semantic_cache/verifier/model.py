"""The default verifier's model: logistic regression on :data:`FEATURES`, kept as plain JSON.

A logistic model's output is a probability, and fitted by maximum likelihood it is calibrated on
the pairs it was fitted on: among pairs it scores 0.9, about nine in ten are duplicates. That is
what the error-bounded mode needs (serve when the chance of a wrong answer is at most δ).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from binary_semantic_cache.verifier.features import FEATURES

__all__ = ["PARAMS_PATH", "VerifierModel", "fit_logistic", "idf_table"]

PARAMS_PATH = Path(__file__).parent / "params.json"


@dataclass(frozen=True)
class VerifierModel:
    """Weights per feature, a bias, an IDF table of word pieces and where they came from."""

    weights: tuple[float, ...]
    bias: float
    idf: Mapping[str, float]
    unseen_idf: float
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def probability(self, features: npt.NDArray[np.float64]) -> float:
        z = self.bias + float(np.dot(self.weights, features))
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def with_fit(
        self, x: npt.NDArray[np.float64], y: npt.NDArray[np.bool_], **why: Any
    ) -> VerifierModel:
        """This model refitted on ``x``/``y`` (its IDF table kept); ``why`` joins the provenance."""
        weights, bias = fit_logistic(x, y)
        return VerifierModel(weights, bias, self.idf, self.unseen_idf, {**self.provenance, **why})

    def to_json(self) -> str:
        return json.dumps(
            {
                "features": list(FEATURES),
                "weights": [round(w, 6) for w in self.weights],
                "bias": round(self.bias, 6),
                "unseen_idf": round(self.unseen_idf, 4),
                "idf": {t: round(v, 3) for t, v in sorted(self.idf.items())},
                "provenance": dict(self.provenance),
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> VerifierModel:
        data = json.loads(text)
        if data.get("features") != list(FEATURES):
            raise ValueError(
                f"verifier parameters are for features {data.get('features')}, "
                f"expected {list(FEATURES)}"
            )
        return cls(
            tuple(float(w) for w in data["weights"]),
            float(data["bias"]),
            {str(t): float(v) for t, v in data["idf"].items()},
            float(data["unseen_idf"]),
            data.get("provenance", {}),
        )

    @classmethod
    def load(cls, path: Path = PARAMS_PATH) -> VerifierModel:
        return cls.from_json(path.read_text(encoding="utf-8"))


def fit_logistic(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.bool_], l2: float = 1e-3, steps: int = 50
) -> tuple[tuple[float, ...], float]:
    """Weights and bias by Newton's method with a small L2 penalty (none on the bias)."""
    if len(x) != len(y) or len(x) == 0 or y.all() or not y.any():
        raise ValueError("expected labelled pairs of both kinds (some True, some False)")
    design = np.c_[x, np.ones(len(x))]
    target = y.astype(np.float64)
    theta = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], l2 * len(x))
    penalty[-1] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ theta, -60, 60)))
        grad = design.T @ (p - target) + penalty * theta
        hess = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.abs(step).max() < 1e-8:
            break
    return tuple(float(w) for w in theta[:-1]), float(theta[-1])


def idf_table(token_lists: Sequence[tuple[str, ...]], keep: int) -> tuple[dict[str, float], float]:
    """IDF of the ``keep`` most common word pieces over ``token_lists`` (one per question), and
    the IDF to give every other piece (that of a piece seen once)."""
    df: dict[str, int] = {}
    for tokens in token_lists:
        for t in set(tokens):
            df[t] = df.get(t, 0) + 1
    n = len(token_lists)
    common = sorted(df, key=lambda t: -df[t])[:keep]
    return {t: math.log((n + 1) / (df[t] + 1)) for t in common}, math.log((n + 1) / 2)
