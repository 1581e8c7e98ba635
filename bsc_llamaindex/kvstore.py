"""``BinaryKVStore``: a bounded, thread-safe key-value store for LlamaIndex caches.

Made for ``BaseEmbedding(embeddings_cache=...)`` and ``IngestionCache(cache=...)``. Values are
kept as JSON, so what a caller gets back is always a fresh copy and nothing is ever pickled.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from llama_index.core.storage.kvstore.types import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_COLLECTION,
    BaseKVStore,
)

from binary_semantic_cache import CorruptCacheError
from bsc_llamaindex.files import atomic_write, load_json

__all__ = ["BinaryKVStore"]

_FORMAT = "bsc-kvstore"
_VERSION = 1
_FILE_NAME = "kvstore.json"


@dataclass(frozen=True, slots=True)
class _Entry:
    value: str  # the value's JSON
    expires_at: float | None  # wall-clock seconds, so an expiry survives a restart

    def is_live(self, now: float) -> bool:
        return self.expires_at is None or now < self.expires_at


class BinaryKVStore(BaseKVStore):
    """An in-memory key-value store with collections, LRU eviction, TTL and atomic persistence.

    Every ``BaseKVStore`` method is here, sync and async. A value must be a dict that JSON can
    hold; ``get`` returns a new copy each time, so callers never share state. ``len()`` counts
    the live entries, yet the store is always true: LlamaIndex tests ``if not
    self.embeddings_cache`` and would otherwise skip an empty cache.

    Args:
        path: A directory to load ``kvstore.json`` from now and to :meth:`persist` it to.
        max_entries: Entries kept over all collections, least recently used dropped first;
            ``None``: no bound.
        ttl_seconds: Lifetime of an entry; ``None``: until evicted or deleted.

    Example:
        .. code-block:: python

            from llama_index.core.ingestion import IngestionCache, IngestionPipeline
            from bsc_llamaindex import BinaryKVStore

            store = BinaryKVStore(path=".bsc", max_entries=50_000)
            pipeline = IngestionPipeline(transformations=[...], cache=IngestionCache(cache=store))
            pipeline.run(documents=documents)
            store.persist()
    """

    def __init__(
        self,
        path: str | PathLike[str] | None = None,
        *,
        max_entries: int | None = None,
        ttl_seconds: float | None = None,
    ) -> None:
        if max_entries is not None and (
            isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1
        ):
            msg = f"max_entries must be a positive int or None, got {max_entries!r}"
            raise ValueError(msg)
        if ttl_seconds is not None and not (
            isinstance(ttl_seconds, (int, float)) and 0 < ttl_seconds < float("inf")
        ):
            msg = f"ttl_seconds must be a positive number of seconds or None, got {ttl_seconds!r}"
            raise ValueError(msg)
        self._path = None if path is None else Path(path)
        self._max_entries = max_entries
        self._ttl_seconds = ttl_seconds
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._lock = threading.Lock()
        if self._path is not None and (self._path / _FILE_NAME).exists():
            self._load(self._path / _FILE_NAME)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(path={self._path}, max_entries={self._max_entries}, "
            f"ttl_seconds={self._ttl_seconds})"
        )

    def __len__(self) -> int:
        now = time.time()
        with self._lock:
            return sum(entry.is_live(now) for entry in self._entries.values())

    def __bool__(self) -> bool:
        # A store is a store even when empty; see the class docstring.
        return True

    # -- writes ---------------------------------------------------------------------------

    def put(self, key: str, val: dict[str, Any], collection: str = DEFAULT_COLLECTION) -> None:
        """Store ``val`` under ``key`` in ``collection``, replacing what was there."""
        self.put_all([(key, val)], collection=collection)

    async def aput(
        self, key: str, val: dict[str, Any], collection: str = DEFAULT_COLLECTION
    ) -> None:
        """Async :meth:`put`."""
        self.put(key, val, collection=collection)

    def put_all(
        self,
        kv_pairs: list[tuple[str, dict[str, Any]]],
        collection: str = DEFAULT_COLLECTION,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        """Store every pair; all or none (every value is checked before any is stored).

        ``batch_size`` is accepted for the interface: an in-memory store writes all at once.
        """
        _check_name("collection", collection)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            msg = f"batch_size must be a positive int, got {batch_size!r}"
            raise ValueError(msg)
        expires_at = None if self._ttl_seconds is None else time.time() + self._ttl_seconds
        encoded = [(key, _encode(key, val)) for key, val in kv_pairs]
        with self._lock:
            for key, value in encoded:
                self._entries[(collection, key)] = _Entry(value, expires_at)
                self._entries.move_to_end((collection, key))
            self._evict()

    async def aput_all(
        self,
        kv_pairs: list[tuple[str, dict[str, Any]]],
        collection: str = DEFAULT_COLLECTION,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        """Async :meth:`put_all`."""
        self.put_all(kv_pairs, collection=collection, batch_size=batch_size)

    def delete(self, key: str, collection: str = DEFAULT_COLLECTION) -> bool:
        """Remove ``key``; return whether a live entry was there."""
        with self._lock:
            entry = self._entries.pop((collection, key), None)
        return entry is not None and entry.is_live(time.time())

    async def adelete(self, key: str, collection: str = DEFAULT_COLLECTION) -> bool:
        """Async :meth:`delete`."""
        return self.delete(key, collection=collection)

    # -- reads ----------------------------------------------------------------------------

    def get(self, key: str, collection: str = DEFAULT_COLLECTION) -> dict[str, Any] | None:
        """Return a copy of the value under ``key``, or ``None``."""
        with self._lock:
            entry = self._entries.get((collection, key))
            if entry is None:
                return None
            if not entry.is_live(time.time()):
                del self._entries[(collection, key)]
                return None
            self._entries.move_to_end((collection, key))
        value: dict[str, Any] = json.loads(entry.value)
        return value

    async def aget(self, key: str, collection: str = DEFAULT_COLLECTION) -> dict[str, Any] | None:
        """Async :meth:`get`."""
        return self.get(key, collection=collection)

    def get_all(self, collection: str = DEFAULT_COLLECTION) -> dict[str, dict[str, Any]]:
        """Return copies of every live value in ``collection``, by key."""
        now = time.time()
        with self._lock:
            items = [
                (key, entry.value)
                for (name, key), entry in self._entries.items()
                if name == collection and entry.is_live(now)
            ]
        return {key: json.loads(value) for key, value in items}

    async def aget_all(self, collection: str = DEFAULT_COLLECTION) -> dict[str, dict[str, Any]]:
        """Async :meth:`get_all`."""
        return self.get_all(collection=collection)

    # -- persistence ----------------------------------------------------------------------

    def persist(self, path: str | PathLike[str] | None = None) -> Path:
        """Write the live entries to ``path`` (default: the constructor's); return the file."""
        directory = self._path if path is None else Path(path)
        if directory is None:
            msg = "no directory: pass path= to BinaryKVStore or to persist()"
            raise ValueError(msg)
        now = time.time()
        with self._lock:
            rows = [
                [name, key, json.loads(entry.value), entry.expires_at]
                for (name, key), entry in self._entries.items()
                if entry.is_live(now)
            ]
        document = {"format": _FORMAT, "version": _VERSION, "entries": rows}
        target = directory / _FILE_NAME
        atomic_write(target, json.dumps(document, ensure_ascii=False).encode("utf-8"))
        return target

    def _load(self, target: Path) -> None:
        document = load_json(target, _FORMAT)
        rows = document.get("entries")
        if document.get("version") != _VERSION or not isinstance(rows, list):
            msg = f"{target}: expected a version {_VERSION} entry list, got something else"
            raise CorruptCacheError(msg)
        now = time.time()
        for row in rows:
            if not (
                isinstance(row, list)
                and len(row) == 4
                and isinstance(row[0], str)
                and isinstance(row[1], str)
                and isinstance(row[2], dict)
                and (row[3] is None or isinstance(row[3], (int, float)))
            ):
                msg = f"{target}: expected [collection, key, value, expiry] rows, got {row!r:.80}"
                raise CorruptCacheError(msg)
            entry = _Entry(json.dumps(row[2], ensure_ascii=False), row[3])
            if entry.is_live(now):
                self._entries[(row[0], row[1])] = entry
        self._evict()

    def _evict(self) -> None:
        # Caller holds the lock (or is __init__, before the store is shared).
        while self._max_entries is not None and len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)


def _check_name(what: str, value: object) -> None:
    if not isinstance(value, str):
        msg = f"{what} must be a str, got {type(value).__name__}"
        raise TypeError(msg)


def _encode(key: object, val: object) -> str:
    _check_name("key", key)
    if not isinstance(val, dict):
        msg = f"values must be dicts, got {type(val).__name__} for key {key!r}"
        raise TypeError(msg)
    try:
        return json.dumps(val, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        msg = f"values must hold only what JSON can (key {key!r}): {exc}"
        raise TypeError(msg) from exc
