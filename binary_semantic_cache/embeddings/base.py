"""The :class:`Embedder` protocol and the helpers every backend shares."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from binary_semantic_cache.embeddings.errors import InvalidInputError, ResponseFormatError

__all__ = ["BaseEmbedder", "Embedder", "Vectors", "as_unit_rows", "truncates", "validate_texts"]

#: A float32 array of shape ``(n, dim)`` whose rows have length 1.
Vectors = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Anything that turns texts into L2-normalised float32 vectors.

    ``model_id`` is stable across processes and goes into cache partition keys, so two
    embedders whose vectors are not comparable must have different ids. It never holds
    a secret.

    Example:
        .. code-block:: python

            def check(embedder: Embedder) -> None:
                vectors = embedder.embed(["hello", "world"])
                assert vectors.shape == (2, embedder.dim)
    """

    @property
    def dim(self) -> int: ...

    @property
    def model_id(self) -> str: ...

    def embed(self, texts: Sequence[str]) -> Vectors: ...

    async def aembed(self, texts: Sequence[str]) -> Vectors: ...


def validate_texts(texts: Sequence[str], *, allow_empty_strings: bool = True) -> list[str]:
    """Return ``texts`` as a list, or raise :class:`InvalidInputError` saying what is wrong."""
    if isinstance(texts, (str, bytes)):
        raise InvalidInputError(
            f"expected a sequence of strings, got a single {type(texts).__name__}; "
            "wrap it in a list or call embed_one()"
        )
    items = list(texts)
    if not items:
        raise InvalidInputError("expected at least one text, got an empty sequence")
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise InvalidInputError(f"expected str at index {i}, got {type(text).__name__}")
        if not allow_empty_strings and not text:
            raise InvalidInputError(
                f"expected a non-empty string at index {i}, got ''; this service rejects them"
            )
    return items


def truncates(embedder: Embedder, text: str) -> bool:
    """Whether ``embedder`` sees only the start of ``text`` (its input window is shorter).

    Embedders that cannot tell (no ``truncates`` method) are taken to see the whole text.
    """
    check = getattr(embedder, "truncates", None)
    return bool(check(text)) if callable(check) else False


def as_unit_rows(rows: object, *, expected_rows: int, expected_dim: int | None) -> Vectors:
    """Check a returned matrix and L2-normalise its rows.

    Raises :class:`ResponseFormatError` when the shape is not ``(expected_rows, dim)``, a
    value is not finite, or a row is all zeros (it has no direction to compare).
    """
    try:
        matrix = np.asarray(rows, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ResponseFormatError(
            f"expected {expected_rows} numeric vectors of equal length, got {exc}"
        ) from exc
    if matrix.ndim != 2 or matrix.shape[0] != expected_rows:
        raise ResponseFormatError(
            f"expected {expected_rows} vectors, got an array of shape {matrix.shape}"
        )
    if expected_dim is not None and matrix.shape[1] != expected_dim:
        raise ResponseFormatError(
            f"expected vectors of dimension {expected_dim}, got {matrix.shape[1]}"
        )
    if not np.isfinite(matrix).all():
        raise ResponseFormatError("expected finite numbers, got NaN or infinity in a vector")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ResponseFormatError("expected non-zero vectors, got a vector of zeros")
    unit: Vectors = (matrix / norms).astype(np.float32, copy=False)
    return unit


class BaseEmbedder(ABC):
    """Conveniences on top of :class:`Embedder`: ``embed_one`` and a threaded ``aembed``."""

    @property
    @abstractmethod
    def dim(self) -> int: ...

    @property
    @abstractmethod
    def model_id(self) -> str: ...

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> Vectors: ...

    async def aembed(self, texts: Sequence[str]) -> Vectors:
        # Compute-bound backends run in a worker thread so the event loop stays free.
        return await asyncio.to_thread(self.embed, texts)

    def truncates(self, text: str) -> bool:
        """Whether :meth:`embed` would see only the start of ``text``; ``False`` unless known.

        The cache adapters match such a prompt exactly, never by meaning: its vector says
        nothing of the part cut off.
        """
        return False

    def embed_one(self, text: str) -> npt.NDArray[np.float32]:
        """Embed a single text; a 1-D float32 vector of length ``dim``."""
        row: npt.NDArray[np.float32] = self.embed([text])[0]
        return row

    def embed_text(self, text: str) -> npt.NDArray[np.float32]:
        """Same as :meth:`embed_one` (the name earlier releases used)."""
        return self.embed_one(text)

    async def aembed_one(self, text: str) -> npt.NDArray[np.float32]:
        """Async :meth:`embed_one`."""
        row: npt.NDArray[np.float32] = (await self.aembed([text]))[0]
        return row


class WrappedEmbedder(BaseEmbedder):
    """An embedder in front of another whose vectors it returns: the same ``dim``, ``model_id``
    and input window."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner

    @property
    def inner(self) -> Embedder:
        return self._inner

    @property
    def dim(self) -> int:
        return self._inner.dim

    @property
    def model_id(self) -> str:
        return self._inner.model_id

    def truncates(self, text: str) -> bool:
        return truncates(self._inner, text)
