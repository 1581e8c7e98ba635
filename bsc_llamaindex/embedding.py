"""Embedding models for ``Settings.embed_model``: a bsc-cache embedder, and an exact vector cache.

:class:`BSCEmbedding` makes any bsc-cache ``Embedder`` (by default the offline
``DefaultEmbedder``) a LlamaIndex embedding model. :class:`BinaryCachedEmbedding` puts an exact
text-to-vector cache in front of any LlamaIndex embedding model, so re-indexing the same
documents or asking the same question again embeds nothing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.constants import DEFAULT_EMBED_BATCH_SIZE

from binary_semantic_cache import CorruptCacheError
from binary_semantic_cache.embeddings import (
    DefaultEmbedder,
    Embedder,
    as_embedder,
    wrapped_embedder,
)
from bsc_llamaindex.files import load_vectors, save_vectors
from bsc_llamaindex.identity import component_identity

__all__ = ["BSCEmbedding", "BinaryCachedEmbedding", "EmbeddingCacheStats", "resolve_embedder"]

_FORMAT = "bsc-embedding-cache"
_VERSION = 1
# Query and document vectors differ for instruction-tuned models, so the kind is in every key.
_QUERY = "query"
_TEXT = "text"


class BSCEmbedding(BaseEmbedding):
    """A bsc-cache ``Embedder`` as a LlamaIndex embedding model (queries and texts alike).

    Args:
        embedder: Default: the offline ``DefaultEmbedder`` (all-MiniLM-L6-v2, 384 dimensions).
        embed_batch_size: Texts per call when LlamaIndex embeds in batches.

    Example:
        .. code-block:: python

            from llama_index.core import Settings, VectorStoreIndex
            from bsc_llamaindex import BSCEmbedding

            Settings.embed_model = BSCEmbedding()  # offline, no key
            index = VectorStoreIndex.from_documents(documents)
    """

    _embedder: Embedder = PrivateAttr()

    def __init__(
        self, embedder: Embedder | None = None, *, embed_batch_size: int = DEFAULT_EMBED_BATCH_SIZE
    ) -> None:
        embedder = wrapped_embedder(
            embedder, "BSCEmbedding", "; wrap LlamaIndex models in BinaryCachedEmbedding"
        )
        super().__init__(model_name=embedder.model_id, embed_batch_size=embed_batch_size)
        self._embedder = embedder

    @classmethod
    def class_name(cls) -> str:
        return "BSCEmbedding"

    @property
    def embedder(self) -> Embedder:
        """The wrapped bsc-cache embedder."""
        return self._embedder

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._get_text_embedding(query)

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return await self._aget_text_embedding(query)

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._get_text_embeddings([text])[0]

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return (await self._aget_text_embeddings([text]))[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        rows: list[Embedding] = self._embedder.embed(texts).tolist()
        return rows

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        rows: list[Embedding] = (await self._embedder.aembed(texts)).tolist()
        return rows


def resolve_embedder(embedding: object) -> Embedder:
    """Return the bsc-cache ``Embedder`` for an LLM cache's ``embedding`` argument."""
    return DefaultEmbedder() if embedding is None else as_embedder(embedding)


@dataclass(frozen=True, slots=True)
class EmbeddingCacheStats:
    """Counters of a :class:`BinaryCachedEmbedding`: texts found, texts embedded, model calls."""

    hits: int
    misses: int
    inner_calls: int
    entries: int


class BinaryCachedEmbedding(BaseEmbedding):
    """An exact text-to-vector cache in front of a LlamaIndex embedding model.

    A text is embedded once per kind: query embeddings (``get_query_embedding``) and text
    embeddings (``get_text_embedding``, document batches) are kept apart, because
    instruction-tuned models embed them differently. Only the texts missing from a batch reach
    the wrapped model, in one call. The cache belongs to the wrapped model's identity (its class
    and settings, without keys or URLs): a directory can hold the caches of several models, and
    a model never reads another's vectors. Vectors are kept as float32; a hit returns exactly
    what the first call returned. Events fire once per call, from this wrapper.

    Args:
        inner_embedding: A LlamaIndex ``BaseEmbedding`` or a bsc-cache ``Embedder``; default:
            the offline ``DefaultEmbedder``.
        path: A directory to load the cache from now and to :meth:`persist` it to (a JSON file
            and a ``.npy`` file per model, written atomically; never pickle).
        max_entries: Vectors kept, least recently used dropped first; ``None``: no bound.

    Example:
        .. code-block:: python

            from llama_index.core import Settings
            from bsc_llamaindex import BinaryCachedEmbedding

            Settings.embed_model = BinaryCachedEmbedding(Settings.embed_model, path=".bsc")
            index = VectorStoreIndex.from_documents(documents)  # embeds every chunk
            Settings.embed_model.persist()
            # next run: the same chunks are read from .bsc, not embedded again
    """

    _inner: BaseEmbedding = PrivateAttr()
    _identity: str = PrivateAttr()
    _path: Path | None = PrivateAttr()
    _max_entries: int | None = PrivateAttr()
    _vectors: OrderedDict[tuple[str, str], npt.NDArray[np.float32]] = PrivateAttr()
    _lock: threading.Lock = PrivateAttr()
    _counts: dict[str, int] = PrivateAttr()

    def __init__(
        self,
        inner_embedding: BaseEmbedding | Embedder | None = None,
        *,
        path: str | PathLike[str] | None = None,
        max_entries: int | None = None,
    ) -> None:
        inner = _as_llamaindex(inner_embedding)
        if max_entries is not None and (isinstance(max_entries, bool) or max_entries < 1):
            msg = f"max_entries must be a positive int or None, got {max_entries!r}"
            raise ValueError(msg)
        super().__init__(
            model_name=inner.model_name,
            embed_batch_size=inner.embed_batch_size,
            num_workers=inner.num_workers,
            callback_manager=inner.callback_manager,
        )
        self._inner = inner
        self._identity = component_identity(inner)
        self._path = None if path is None else Path(path)
        self._max_entries = max_entries
        self._vectors = OrderedDict()
        self._lock = threading.Lock()
        self._counts = {"hits": 0, "misses": 0, "inner_calls": 0}
        if self._path is not None and self._file().exists():
            self._load()

    @classmethod
    def class_name(cls) -> str:
        return "BinaryCachedEmbedding"

    @property
    def inner_embedding(self) -> BaseEmbedding:
        """The wrapped embedding model."""
        return self._inner

    @property
    def model_identity(self) -> str:
        """The digest that namespaces this cache: the wrapped model's class and settings."""
        return self._identity

    def stats(self) -> EmbeddingCacheStats:
        """Return texts found, texts embedded, calls to the wrapped model and vectors kept."""
        with self._lock:
            return EmbeddingCacheStats(**self._counts, entries=len(self._vectors))

    def clear(self) -> None:
        """Forget every vector (the files under ``path`` stay until the next :meth:`persist`)."""
        with self._lock:
            self._vectors.clear()

    # -- persistence ----------------------------------------------------------------------

    def _file(self, directory: Path | None = None) -> Path:
        base = directory if directory is not None else self._path
        if base is None:
            msg = "no directory: pass path= to BinaryCachedEmbedding or to persist()"
            raise ValueError(msg)
        return base / f"embeddings-{self._identity[:32]}.json"

    def persist(self, path: str | PathLike[str] | None = None) -> Path:
        """Write the cache to ``path`` (default: the constructor's); return the JSON file."""
        target = self._file(None if path is None else Path(path))
        with self._lock:
            keys = list(self._vectors)
            rows = list(self._vectors.values())
        dim = rows[0].shape[0] if rows else 0
        vectors = np.stack(rows) if rows else np.zeros((0, dim), dtype=np.float32)
        meta = {
            "format": _FORMAT,
            "version": _VERSION,
            "model": f"{self._inner.class_name()}:{self._inner.model_name}",
            "identity": self._identity,
            "keys": [list(key) for key in keys],
        }
        save_vectors(target, meta, vectors)
        return target

    def _load(self) -> None:
        target = self._file()
        meta, vectors = load_vectors(target, _FORMAT)
        keys = meta.get("keys")
        if meta.get("version") != _VERSION or meta.get("identity") != self._identity:
            msg = f"{target}: expected version {_VERSION} vectors of this model, got others"
            raise CorruptCacheError(msg)
        if not isinstance(keys, list) or len(keys) != len(vectors):
            msg = f"{target}: expected one key per vector ({len(vectors)}), got {keys!r:.80}"
            raise CorruptCacheError(msg)
        with self._lock:
            for key, row in zip(keys, vectors, strict=True):
                kind, text = key
                self._remember((str(kind), str(text)), row)

    # -- the cache ------------------------------------------------------------------------

    def _remember(self, key: tuple[str, str], row: npt.NDArray[np.float32]) -> None:
        # Caller holds the lock. Rows are read-only so no caller can change a cached vector.
        vector = np.array(row, dtype=np.float32)
        vector.flags.writeable = False
        self._vectors[key] = vector
        self._vectors.move_to_end(key)
        while self._max_entries is not None and len(self._vectors) > self._max_entries:
            self._vectors.popitem(last=False)

    def _split(self, kind: str, texts: Sequence[str]) -> tuple[dict[str, Embedding], list[str]]:
        found: dict[str, Embedding] = {}
        missing: list[str] = []
        with self._lock:
            for text in texts:
                if text in found or text in missing:
                    continue
                vector = self._vectors.get((kind, text))
                if vector is None:
                    missing.append(text)
                else:
                    self._vectors.move_to_end((kind, text))
                    found[text] = vector.tolist()
            self._counts["hits"] += len(found)
            self._counts["misses"] += len(missing)
            if missing:
                self._counts["inner_calls"] += 1
        return found, missing

    def _merge(
        self,
        kind: str,
        texts: Sequence[str],
        found: dict[str, Embedding],
        missing: list[str],
        rows: Sequence[Embedding],
    ) -> list[Embedding]:
        if len(rows) != len(missing):
            msg = f"expected {len(missing)} embeddings from the wrapped model, got {len(rows)}"
            raise ValueError(msg)
        with self._lock:
            for text, row in zip(missing, rows, strict=True):
                self._remember((kind, text), np.asarray(row, dtype=np.float32))
                found[text] = self._vectors[(kind, text)].tolist()
        return [found[text] for text in texts]

    def _embed(
        self, kind: str, texts: Sequence[str], compute: Callable[[list[str]], list[Embedding]]
    ) -> list[Embedding]:
        found, missing = self._split(kind, texts)
        if missing:
            if self._inner.rate_limiter is not None:
                self._inner.rate_limiter.acquire()
            return self._merge(kind, texts, found, missing, compute(missing))
        return [found[text] for text in texts]

    async def _aembed(
        self,
        kind: str,
        texts: Sequence[str],
        compute: Callable[[list[str]], Awaitable[list[Embedding]]],
    ) -> list[Embedding]:
        found, missing = self._split(kind, texts)
        if missing:
            if self._inner.rate_limiter is not None:
                await self._inner.rate_limiter.async_acquire()
            return self._merge(kind, texts, found, missing, await compute(missing))
        return [found[text] for text in texts]

    # The wrapped model's private methods: its public ones would fire a second set of events.

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._embed(_QUERY, [query], _one(self._inner._get_query_embedding))[0]

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return (await self._aembed(_QUERY, [query], _aone(self._inner._aget_query_embedding)))[0]

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._embed(_TEXT, [text], self._inner._get_text_embeddings)[0]

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return (await self._aembed(_TEXT, [text], self._inner._aget_text_embeddings))[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._embed(_TEXT, texts, self._inner._get_text_embeddings)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return await self._aembed(_TEXT, texts, self._inner._aget_text_embeddings)


def _one(embed: Callable[[str], Embedding]) -> Callable[[list[str]], list[Embedding]]:
    return lambda texts: [embed(text) for text in texts]


def _aone(
    embed: Callable[[str], Awaitable[Embedding]],
) -> Callable[[list[str]], Awaitable[list[Embedding]]]:
    async def run(texts: list[str]) -> list[Embedding]:
        return [await embed(text) for text in texts]

    return run


def _as_llamaindex(inner: Any) -> BaseEmbedding:
    if inner is None:
        return BSCEmbedding()
    if isinstance(inner, BinaryCachedEmbedding):
        msg = "inner_embedding is already a BinaryCachedEmbedding; wrap the model itself"
        raise ValueError(msg)
    if isinstance(inner, BaseEmbedding):
        return inner
    if isinstance(inner, Embedder):
        return BSCEmbedding(inner)
    msg = (
        "BinaryCachedEmbedding wraps a LlamaIndex BaseEmbedding or a bsc-cache Embedder, "
        f"got {type(inner).__module__}.{type(inner).__qualname__}"
    )
    raise TypeError(msg)
