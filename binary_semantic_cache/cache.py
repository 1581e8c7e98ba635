"""``BinarySemanticCache``: the core cache, optionally shared through Redis."""

from __future__ import annotations

import math
import weakref
from collections.abc import Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt

from binary_semantic_cache import _core

if TYPE_CHECKING:
    from typing_extensions import Self

    from binary_semantic_cache.redis_sync import SyncEngine, SyncOptions
    from binary_semantic_cache.redis_sync.engine import Row

_REDIS_EXTRA = 'pip install "bsc-cache[redis]"'


class BinarySemanticCache(_core.BinarySemanticCache):
    """A semantic cache: embeddings in, the response stored for the nearest similar one out.

    With ``redis_url`` the cache is shared: every instance with the same ``namespace`` on that
    Redis sees the others' puts, deletes and clears within milliseconds, while lookups are still
    answered from the local index (they never touch the network). Local ids (returned by
    ``put``, taken by ``delete``) stay per instance. Without ``redis_url`` it is the core cache.
    Every other argument (``path=`` included) goes to the core cache unchanged. With both
    ``path`` and ``redis_url``, the reopened entries answer lookups until the first sync with
    Redis, which replaces them with the shared store's entries.

    Args:
        encoder: the ``BinaryEncoder``; instances sharing a namespace must use equal encoders
            (and the same ``max_entries``).
        redis_url: ``redis://`` or ``rediss://`` (TLS) URL, credentials included; passed to
            redis-py and never logged.
        redis_cluster: ``redis_url`` names a node of a Redis Cluster (cluster mode enabled, as
            in ElastiCache or MemoryDB); as with redis-py's ``RedisCluster.from_url``.
        namespace: instances with the same namespace share entries.
        redis_options: ``SyncOptions`` (queue bound, feed length, timeouts).

    Example:
        >>> encoder = BinaryEncoder(384)
        >>> with BinarySemanticCache(encoder, redis_url="redis://cache:6379/0") as cache:
        ...     cache.put(embedding, "Paris")
        ...     # another process on another machine, a few milliseconds later:
        ...     other.get(embedding).response
        'Paris'
    """

    __slots__ = ("__weakref__", "_sync")

    _sync: SyncEngine | None

    def __new__(
        cls,
        *args: Any,
        redis_url: str | None = None,
        namespace: str = "default",
        redis_options: SyncOptions | None = None,
        redis_cluster: bool = False,
        **kwargs: Any,
    ) -> BinarySemanticCache:
        if redis_cluster and redis_url is None:
            raise ValueError("redis_cluster=True needs redis_url (the URL of any cluster node)")
        self = cast(BinarySemanticCache, super().__new__(cls, *args, **kwargs))
        self._sync = None
        if redis_url is not None:
            try:
                from binary_semantic_cache.redis_sync import SyncEngine, SyncOptions
            except ImportError as err:
                raise ImportError(f"redis_url needs redis-py: {_REDIS_EXTRA}") from err
            self._sync = SyncEngine(
                redis_url,
                namespace,
                _CoreView(self),
                self.max_entries,
                redis_options or SyncOptions(),
                cluster=redis_cluster,
            )
            self._sync.start()
        return self

    def put(
        self,
        embedding: npt.ArrayLike,
        response: Any,
        partition: str | None = None,
        ttl_seconds: float | None = None,
    ) -> int:
        if self._sync is None:
            return super().put(embedding, response, partition, ttl_seconds)
        self.encoder.encode(embedding)
        vector = np.ascontiguousarray(embedding, dtype=np.float32).reshape(-1)
        return self._sync.put_many([self._row(vector, response, partition, ttl_seconds)])[0]

    def put_batch(
        self,
        embeddings: npt.ArrayLike,
        responses: Iterable[Any],
        partition: str | None = None,
        ttl_seconds: float | None = None,
    ) -> list[int]:
        if self._sync is None:
            return super().put_batch(embeddings, responses, partition, ttl_seconds)
        # Every row is checked before any is stored, as in the core.
        self.encoder.encode_batch(embeddings)
        matrix = np.ascontiguousarray(embeddings, dtype=np.float32)
        responses = list(responses)
        if len(responses) != len(matrix):
            raise ValueError(
                f"expected one response per embedding ({len(matrix)}), got {len(responses)}"
            )
        rows = [
            self._row(v, r, partition, ttl_seconds) for v, r in zip(matrix, responses, strict=True)
        ]
        return self._sync.put_many(rows)

    def delete(self, id: int) -> bool:
        if self._sync is None:
            return super().delete(id)
        return self._sync.delete(id)

    def clear(self, partition: str | None = None) -> int:
        if self._sync is None:
            return super().clear(partition)
        return self._sync.clear(partition)

    def clear_prefix(self, prefix: str) -> int:
        if self._sync is None:
            return super().clear_prefix(prefix)
        return self._sync.clear(prefix, prefix=True)

    def stats(self) -> dict[str, int]:
        """The core's counters, plus ``redis_*`` ones when shared.

        ``redis_connected`` (0/1), ``redis_queued_writes``, ``redis_dropped_writes``,
        ``redis_applied_events``, ``redis_resyncs`` (full catch-ups after a gap or a lost store),
        ``redis_reconnects`` and ``redis_errors``.
        """
        stats = super().stats()
        if self._sync is not None:
            stats.update(self._sync.stats())
        return stats

    def close(self) -> None:
        """Stops following Redis (first trying once to send queued writes), then closes the core."""
        if self._sync is not None:
            self._sync.close()
            self._sync = None
        super().close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None:
        self.close()

    def _row(
        self,
        vector: npt.NDArray[np.float32],
        response: Any,
        partition: str | None,
        ttl_seconds: float | None,
    ) -> Row:
        from binary_semantic_cache.redis_sync.codec import encode_response
        from binary_semantic_cache.redis_sync.engine import Row

        if partition is not None and not isinstance(partition, str):
            raise TypeError(f"partition must be str or None, got {type(partition).__name__}")
        ttl = self.ttl_seconds if ttl_seconds is None else ttl_seconds
        if ttl is not None and not (math.isfinite(ttl) and ttl > 0):
            raise ValueError(f"ttl_seconds must be a finite number greater than 0, got {ttl}")
        kind, payload = encode_response(response)
        return Row(vector, response, partition or "", ttl, vector.tobytes(), kind, payload)


class _CoreView:
    """The core methods of a cache, by weak reference so the sync thread never keeps it alive."""

    def __init__(self, cache: BinarySemanticCache) -> None:
        self._ref = weakref.ref(cache)

    def _cache(self) -> BinarySemanticCache:
        cache = self._ref()
        if cache is None:
            raise ReferenceError("the cache was garbage-collected")
        return cache

    def alive(self) -> bool:
        return self._ref() is not None

    def put(
        self, vector: npt.ArrayLike, response: Any, partition: str, ttl_seconds: float | None
    ) -> int:
        return _core.BinarySemanticCache.put(
            self._cache(), vector, response, partition, ttl_seconds
        )

    def delete(self, lid: int) -> bool:
        return _core.BinarySemanticCache.delete(self._cache(), lid)

    def clear(self, partition: str | None) -> int:
        return _core.BinarySemanticCache.clear(self._cache(), partition)

    def clear_prefix(self, prefix: str) -> int:
        return _core.BinarySemanticCache.clear_prefix(self._cache(), prefix)

    def ids(self) -> list[int]:
        return _core.BinarySemanticCache.ids(self._cache())
