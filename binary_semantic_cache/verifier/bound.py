"""The error-bounded mode: serve a hit only when its chance of being wrong is at most δ.

The verifier's score is a calibrated probability ``p`` that the stored answer serves the new
question, so ``1 - p`` is the chance the hit is wrong. A user who says an answer was wrong
(``report_wrong``) tightens the bound around that question: every later lookup near it must meet
a smaller δ, as vCache learns a bound per entry. The state is kept by question vector rather
than by entry, because the reported entry is removed and its paraphrases then meet a neighbour.
"""

from __future__ import annotations

import threading

import numpy as np
import numpy.typing as npt

__all__ = ["WrongReports", "within_bound"]


def within_bound(probability: float, max_wrong_rate: float) -> bool:
    """Whether a hit whose chance of being right is ``probability`` may be served under δ."""
    return 1.0 - probability <= max_wrong_rate + 1e-12  # 1 - 0.98 is 0.0200000000000000018


class WrongReports:
    """Where answers were reported wrong, and how much stricter the bound is near each.

    Each report near a question (cosine at least ``radius`` to a reported question's vector)
    multiplies δ there by ``factor``; reports beyond ``max_reports`` forget the oldest.

    Args:
        radius: Cosine from which a lookup counts as near a reported question.
        factor: What δ is multiplied by per report nearby, in (0, 1).
        max_reports: How many reported questions are remembered.

    Example:
        .. code-block:: python

            import numpy as np
            from binary_semantic_cache.verifier import WrongReports, within_bound

            reports = WrongReports()
            v = np.ones(384, dtype=np.float32) / np.sqrt(384)
            reports.report(v)
            delta = reports.max_wrong_rate(v, 0.05)  # 0.0125: stricter near the report
            within_bound(0.97, delta)  # False, though 0.97 meets 0.05
    """

    def __init__(self, radius: float = 0.85, factor: float = 0.25, max_reports: int = 4096) -> None:
        if not 0.0 < factor < 1.0:
            raise ValueError(f"factor must be in (0, 1), got {factor}")
        if max_reports < 1:
            raise ValueError(f"max_reports must be at least 1, got {max_reports}")
        self._radius = radius
        self._factor = factor
        self._max = max_reports
        self._vectors: list[npt.NDArray[np.float32]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._vectors)

    def report(self, vector: npt.ArrayLike) -> None:
        """Remember that the answer served for the question with this vector was wrong."""
        unit = np.asarray(vector, dtype=np.float32).ravel()
        unit = unit / max(1e-12, float(np.linalg.norm(unit)))
        with self._lock:
            self._vectors.append(unit)
            del self._vectors[: -self._max]

    def max_wrong_rate(self, vector: npt.ArrayLike, max_wrong_rate: float) -> float:
        """δ for a lookup with this vector: ``max_wrong_rate`` tightened by nearby reports."""
        with self._lock:
            if not self._vectors:
                return max_wrong_rate
            stacked = np.stack(self._vectors)
        query = np.asarray(vector, dtype=np.float32).ravel()
        query = query / max(1e-12, float(np.linalg.norm(query)))
        near = int((stacked @ query >= self._radius).sum())
        return max_wrong_rate * self._factor**near
