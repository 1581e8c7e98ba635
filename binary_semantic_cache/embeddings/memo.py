"""A small text-to-vector LRU in front of any embedder."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from binary_semantic_cache.embeddings.base import (
    Embedder,
    Vectors,
    WrappedEmbedder,
    validate_texts,
)
from binary_semantic_cache.embeddings.errors import InputTooLongError

__all__ = ["MemoizedEmbedder"]


class MemoizedEmbedder(WrappedEmbedder):
    """Remembers the vectors of the last ``maxsize`` texts, so a text is embedded once.

    Made for the cache's miss-then-update path: the lookup embeds the prompt, and the
    update that follows the model call gets the same vector back without a second call.
    A text embedded alone and refused as too long (:class:`InputTooLongError`) is remembered
    too: :meth:`truncates` says so from then on, and the adapters stop sending it.
    ``model_id`` and ``dim`` are the inner embedder's: the vectors are the same.

    Example:
        .. code-block:: python

            embedder = MemoizedEmbedder(DefaultEmbedder(), maxsize=256)
            first = embedder.embed_one("What is BM25?")
            again = embedder.embed_one("What is BM25?")  # no model run
    """

    def __init__(self, inner: Embedder, *, maxsize: int = 1024) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        super().__init__(inner)
        self._maxsize = maxsize
        self._memo: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()
        self._too_long: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __repr__(self) -> str:
        return f"MemoizedEmbedder({self._inner!r}, maxsize={self._maxsize})"

    def truncates(self, text: str) -> bool:
        with self._lock:
            if text in self._too_long:
                return True
        return super().truncates(text)

    def clear(self) -> None:
        with self._lock:
            self._memo.clear()
            self._too_long.clear()

    def _refused(self, missing: list[str]) -> None:
        # Only a text sent alone is known to be the one too long.
        if len(missing) != 1:
            return
        with self._lock:
            self._too_long[missing[0]] = None
            self._too_long.move_to_end(missing[0])
            _keep_newest(self._too_long, self._maxsize)

    def _lookup(self, items: list[str]) -> tuple[dict[str, npt.NDArray[np.float32]], list[str]]:
        found: dict[str, npt.NDArray[np.float32]] = {}
        missing: list[str] = []
        with self._lock:
            for text in items:
                if text in found or text in missing:
                    continue
                vector = self._memo.get(text)
                if vector is None:
                    missing.append(text)
                    self.misses += 1
                else:
                    self._memo.move_to_end(text)
                    found[text] = vector
                    self.hits += 1
        return found, missing

    def _store(
        self, found: dict[str, npt.NDArray[np.float32]], missing: list[str], vectors: Vectors
    ) -> None:
        with self._lock:
            for text, row in zip(missing, vectors, strict=True):
                # Stored rows are read-only copies, so no caller can alter another's vector.
                vector = np.array(row, dtype=np.float32)
                vector.flags.writeable = False
                found[text] = vector
                self._memo[text] = vector
                self._memo.move_to_end(text)
            _keep_newest(self._memo, self._maxsize)

    def embed(self, texts: Sequence[str]) -> Vectors:
        items = validate_texts(texts)
        found, missing = self._lookup(items)
        if missing:
            try:
                vectors = self._inner.embed(missing)
            except InputTooLongError:
                self._refused(missing)
                raise
            self._store(found, missing, vectors)
        return np.stack([found[text] for text in items])

    async def aembed(self, texts: Sequence[str]) -> Vectors:
        items = validate_texts(texts)
        found, missing = self._lookup(items)
        if missing:
            try:
                vectors = await self._inner.aembed(missing)
            except InputTooLongError:
                self._refused(missing)
                raise
            self._store(found, missing, vectors)
        return np.stack([found[text] for text in items])


def _keep_newest(items: OrderedDict[str, Any], maxsize: int) -> None:
    """Drop the least recently used items past ``maxsize``; the caller holds the lock."""
    while len(items) > maxsize:
        items.popitem(last=False)
