"""The lookup and write path shared by every call form of the LLM wrapper.

A failure anywhere in here (the embedder, the core, a payload) becomes a miss or a skipped
write: it is counted, logged once per exception type, and never reaches the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from binary_semantic_cache import _adapter, _core
from binary_semantic_cache._adapter import GuardsArg, PathArg
from binary_semantic_cache.embeddings import Embedder, InputTooLongError, MemoizedEmbedder
from binary_semantic_cache.failures import FailureLog
from binary_semantic_cache.guards import PrecisionGuards
from bsc_llamaindex.payload import StoredAnswer, load_answer
from bsc_llamaindex.stats import CacheStats, StatsRecorder

__all__ = ["CacheKey", "Hit", "ResponseCache"]

logger = logging.getLogger("bsc_llamaindex")

# Enough for every prompt of a burst of concurrent calls between their lookups and their writes.
_MEMO_SIZE = 4096


@dataclass(frozen=True, slots=True)
class CacheKey:
    """Where an answer lives (``partition``) and the question matched within it (``query``)."""

    partition: str
    query: str | None

    def exact_only(self) -> CacheKey:
        """This key for a question the embedding server refused as too long."""
        return CacheKey(_adapter.exact_only_partition(self.partition, self.query), None)


@dataclass(frozen=True, slots=True)
class Hit:
    """A stored answer found for a lookup."""

    answer: StoredAnswer
    similarity: float
    tier: str

    @property
    def marks(self) -> dict[str, Any]:
        """What a replayed response carries in its ``additional_kwargs``."""
        return {"cache_hit": True, "cache_similarity": self.similarity, "cache_tier": self.tier}


class ResponseCache:
    """Answers stored by partition, found by the meaning of their question.

    A key without a query (the prompt may only match exactly) is stored under a constant vector:
    its partition already names the whole prompt, so any entry in it is an exact match, and it
    shares the core's LRU, TTL, ``max_entries`` and persistence with every other answer.

    A semantic (non-exact) match is served only if the precision guards find no difference
    between the two questions that usually changes an answer; a refusal is a miss.
    """

    def __init__(
        self,
        embedder: Embedder,
        *,
        similarity_threshold: float,
        max_entries: int,
        ttl_seconds: float | None,
        rescore: bool,
        path: PathArg = None,
        redis_url: str | None = None,
        redis_namespace: str = "default",
        redis_cluster: bool = False,
        guards: GuardsArg = True,
    ) -> None:
        self._guards = _adapter.resolve_guards(guards)
        # The lookup that misses embeds the question; the write after the model call reuses it,
        # and a repeated question is answered without running the embedder again.
        self._embedder = MemoizedEmbedder(embedder, maxsize=_MEMO_SIZE)
        self._core = _adapter.open_core(
            embedder.dim,
            max_entries=max_entries,
            similarity_threshold=similarity_threshold,
            ttl_seconds=ttl_seconds,
            rescore=rescore,
            path=path,
            redis_url=redis_url,
            redis_namespace=redis_namespace,
            redis_cluster=redis_cluster,
        )
        self._exact_vector = _adapter.exact_vector(embedder.dim)
        self._stats = StatsRecorder(CacheStats)
        self._failures = FailureLog(logger)

    @property
    def core(self) -> _core.BinarySemanticCache:
        """The compiled cache holding the answers."""
        return self._core

    @property
    def guards(self) -> PrecisionGuards | None:
        """The precision guards a semantic match must pass, or ``None``."""
        return self._guards

    def close(self) -> None:
        """Write out and release the directory, stop following Redis; idempotent."""
        _adapter.close_core(self._core)

    def stats(self) -> CacheStats:
        """Return the counters."""
        return self._stats.snapshot()

    def clear(self) -> None:
        """Forget every stored answer."""
        self._core.clear()
        self._embedder.clear()

    def key(self, partition: str, query: str | None) -> CacheKey:
        """The key of ``query`` in ``partition``: exact-only when the embedder cannot see all of
        it, or when it was stored so (the embedding server refused it as too long).
        """
        return CacheKey(
            *_adapter.matched_exactly_if_cut_off(partition, query, self._embedder, self._core)
        )

    def lookup(self, key: CacheKey) -> Hit | None:
        """Return the answer stored for ``key``, or ``None``; never raises."""
        try:
            vector = self._exact_vector
            if key.query is not None:
                vector = self._embedder.embed([key.query])[0]
            return self._find(key, vector)
        except InputTooLongError:
            # Its exact-only partition was checked by key(): nothing is stored for it.
            self._stats.add("lookups", "misses")
            return None
        except Exception as exc:
            self.lookup_failed(exc)
            return None

    async def alookup(self, key: CacheKey) -> Hit | None:
        """Async :meth:`lookup`: the embedding runs off the event loop."""
        try:
            vector = self._exact_vector
            if key.query is not None:
                vector = (await self._embedder.aembed([key.query]))[0]
            return self._find(key, vector)
        except InputTooLongError:
            self._stats.add("lookups", "misses")
            return None
        except Exception as exc:
            self.lookup_failed(exc)
            return None

    def store(self, key: CacheKey, payload: Callable[[str | None], str]) -> None:
        """Store the answer ``payload(query)`` builds for the query stored; never raises."""
        try:
            key = self.key(key.partition, key.query)  # the lookup may have been refused
            vector = self._exact_vector
            if key.query is not None:
                try:
                    vector = self._embedder.embed([key.query])[0]
                except InputTooLongError:
                    key = key.exact_only()
            self._put(key, vector, payload(key.query))
        except Exception as exc:
            self._write_failed(exc)

    async def astore(self, key: CacheKey, payload: Callable[[str | None], str]) -> None:
        """Async :meth:`store`."""
        try:
            key = self.key(key.partition, key.query)  # the lookup may have been refused
            vector = self._exact_vector
            if key.query is not None:
                try:
                    vector = (await self._embedder.aembed([key.query]))[0]
                except InputTooLongError:
                    key = key.exact_only()
            self._put(key, vector, payload(key.query))
        except Exception as exc:
            self._write_failed(exc)

    def lookup_failed(self, exc: BaseException) -> None:
        """Count and log a lookup that failed; the call goes on to the model."""
        self._stats.add("lookups", "misses", "errors")
        self._failures.record("lookup", exc, treated_as="miss")

    def _find(self, key: CacheKey, vector: npt.NDArray[np.float32]) -> Hit | None:
        found = self._core.get(vector, partition=key.partition)
        if found is None:
            self._stats.add("lookups", "misses")
            return None
        answer = load_answer(found.response)
        tier = "exact" if answer.query == key.query else "semantic"
        if tier == "semantic" and self._guards is not None and key.query and answer.query:
            reason = self._guards.check(key.query, answer.query)
            if reason is not None:
                logger.debug("semantic hit refused by the precision guards: %s", reason)
                self._stats.add("lookups", "misses", "guard_refusals")
                return None
        self._stats.add("lookups", "hits", f"{tier}_hits")
        return Hit(answer, float(found.similarity), tier)

    def _put(self, key: CacheKey, vector: npt.NDArray[np.float32], payload: str) -> None:
        self._core.put(vector, payload, partition=key.partition)
        self._stats.add("writes")

    def _write_failed(self, exc: BaseException) -> None:
        self._stats.add("skipped_writes")
        self._failures.record("write", exc, treated_as="skipped write")
