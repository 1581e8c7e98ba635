"""A second opinion before a semantic hit is served: does the stored question ask the same thing?

The nearest code says two questions are close; it cannot say they ask the same thing ("When was
Google founded?" and "Who founded Google?" are 0.95 apart). A verifier looks at the pair of
texts and returns the probability, in 0..1, that the stored answer serves the new question. It
runs only on a candidate above the similarity threshold, so a miss costs nothing more.

- :class:`Verifier`: the plug-in point, ``score(stored_question, new_question)`` and its async
  twin ``ascore``; :class:`BaseVerifier` gives ``ascore`` to a class that writes ``score``;
- :class:`DefaultVerifier`: offline, on the default MiniLM's token vectors, the precision guards
  and IDF-weighted word differences, in a logistic model shipped as JSON (``params.json``);
- :func:`within_bound` and :class:`WrongReports`: the error-bounded mode (``max_wrong_rate``).

Use with the default embedder: a hit is served when its similarity reaches
:data:`VERIFIER_SIMILARITY_THRESHOLD` and ``score(...) >= DEFAULT_VERIFIER_CUTOFF``, or, in the
error-bounded mode, when ``within_bound(score, max_wrong_rate)``.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from binary_semantic_cache.embeddings.default import DefaultEmbedder, TokenVectors
from binary_semantic_cache.verifier._memo import Memo
from binary_semantic_cache.verifier.bound import WrongReports, within_bound
from binary_semantic_cache.verifier.features import pair_features
from binary_semantic_cache.verifier.model import PARAMS_PATH, VerifierModel

__all__ = [
    "DEFAULT_VERIFIER_CUTOFF",
    "VERIFIER_SIMILARITY_THRESHOLD",
    "BaseVerifier",
    "DefaultVerifier",
    "Verifier",
    "WrongReports",
    "within_bound",
]

#: The similarity threshold to use with the default verifier on (default embedder, 256 bits):
#: looser than the plain default, since the verifier removes what the looser threshold lets in.
VERIFIER_SIMILARITY_THRESHOLD = 0.865
#: The default verifier's cut-off: a candidate is served when its score reaches it.
DEFAULT_VERIFIER_CUTOFF = 0.6


@runtime_checkable
class Verifier(Protocol):
    """Scores whether a stored question's answer serves a new question: 0 (no) to 1 (yes).

    An object may also have ``async def ascore(stored_question, new_question)``; without it the
    async path runs ``score`` in a worker thread (:class:`BaseVerifier` gives one).
    """

    def score(self, stored_question: str, new_question: str) -> float:
        """The probability, in 0..1, that the answer to ``stored_question`` serves
        ``new_question``."""
        ...


class BaseVerifier(ABC):
    """A verifier from ``score`` alone: ``ascore`` runs it in a worker thread."""

    @abstractmethod
    def score(self, stored_question: str, new_question: str) -> float: ...

    async def ascore(self, stored_question: str, new_question: str) -> float:
        return await asyncio.to_thread(self.score, stored_question, new_question)


class DefaultVerifier(BaseVerifier):
    """The shipped verifier: offline, about a millisecond a pair once its questions were seen.

    Scores are cached per pair, and token vectors per question (a stored question is scored
    against many paraphrases); both caches are bounded.

    Args:
        model: The fitted model (default: the shipped ``params.json``; see :meth:`from_file`
            for one fitted by ``calibrate_verifier`` on your own pairs).
        embedder: Where token vectors come from (default: a :class:`DefaultEmbedder`).
        max_pairs: Decisions remembered.
        max_questions: Questions whose token vectors are remembered.

    Example:
        .. code-block:: python

            from binary_semantic_cache.verifier import DEFAULT_VERIFIER_CUTOFF, DefaultVerifier

            verifier = DefaultVerifier()
            verifier.score("When was Google founded?", "Who founded Google?")  # low
            verifier.score("When was Google founded?", "In what year was Google founded?")  # high
    """

    def __init__(
        self,
        model: VerifierModel | None = None,
        embedder: DefaultEmbedder | None = None,
        *,
        max_pairs: int = 8192,
        max_questions: int = 4096,
    ) -> None:
        self._model = model if model is not None else VerifierModel.load(PARAMS_PATH)
        self._embedder = embedder if embedder is not None else DefaultEmbedder()
        self._scores: Memo[tuple[str, str], float] = Memo(max_pairs)
        self._tokens: Memo[str, TokenVectors] = Memo(max_questions)

    def __repr__(self) -> str:
        return f"DefaultVerifier(model={self._model.provenance.get('fitted_on', 'custom')!r})"

    @classmethod
    def from_file(cls, path: str | Path) -> DefaultVerifier:
        """A verifier with the model written by ``calibrate_verifier(...).to_json()``."""
        return cls(VerifierModel.load(Path(path)))

    @property
    def model(self) -> VerifierModel:
        return self._model

    def token_vectors(self, question: str) -> TokenVectors:
        """The question's token vectors, from the cache or the model."""
        return self._tokens.get(question, lambda: self._embedder.token_vectors([question])[0])

    def remember(self, question: str, tokens: TokenVectors) -> None:
        """Keep a question's token vectors computed elsewhere, so scoring it runs no model.

        A cache that embeds with ``DefaultEmbedder.token_vectors`` (the same run as ``embed``,
        its ``.vector`` is the embedding) and remembers the pieces of every question it stores
        and looks up pays only this model's arithmetic per hit.
        """
        self._tokens.get(question, lambda: tokens)

    def features(self, stored_question: str, new_question: str) -> npt.NDArray[np.float64]:
        """What the model weighs for this pair (see :data:`~.features.FEATURES`)."""
        return pair_features(
            stored_question,
            new_question,
            self.token_vectors(stored_question),
            self.token_vectors(new_question),
            self._model.idf,
            self._model.unseen_idf,
        )

    def score(self, stored_question: str, new_question: str) -> float:
        return self._scores.get(
            (stored_question, new_question),
            lambda: self._model.probability(self.features(stored_question, new_question)),
        )
