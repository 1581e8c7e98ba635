"""``BinarySemanticLLMCache``: a LangChain cache matching context exactly, questions by meaning."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from langchain_core.caches import RETURN_VAL_TYPE, BaseCache
from langchain_core.embeddings import Embeddings
from langchain_core.outputs import Generation

from binary_semantic_cache import (
    DEFAULT_SIMILARITY_THRESHOLD,
    BinaryEncoder,
    BinarySemanticCache,
)
from binary_semantic_cache.embeddings import (
    DefaultEmbedder,
    Embedder,
    MemoizedEmbedder,
    as_embedder,
)
from bsc_langchain.lru import BoundedLRU
from bsc_langchain.partition import hash_llm_string, partition_id, split_prompt
from bsc_langchain.serialize import dump_generations, fresh_generations, load_generations
from bsc_langchain.stats import CacheStats, ModelPrice, StatsRecorder

__all__ = ["BinarySemanticLLMCache"]

logger = logging.getLogger(__name__)

# Enough for every prompt of a large `batch()` between its lookups and its updates.
_MEMO_SIZE = 4096
_PAYLOAD_VERSION = 1


@dataclass(frozen=True, slots=True)
class _ExactEntry:
    """What the exact tier keeps for one full prompt: revived generations, never JSON."""

    templates: list[Generation]
    namespace: str
    llm_hash: str
    expires_at: float | None
    core_id: int | None

    def is_live(self) -> bool:
        return self.expires_at is None or time.monotonic() < self.expires_at


@dataclass(frozen=True, slots=True)
class _PartitionOwner:
    namespace: str
    llm_hash: str


class BinarySemanticLLMCache(BaseCache):
    """LLM cache for LangChain: exact match on context, semantic match on the last question.

    A prompt is split into a partition (namespace, a hash of ``llm_string``, the embedder's
    ``model_id``, the system prompt, history, tool calls and results and any non-text content)
    and a query (the text of the last human message, or a plain LLM prompt). A repeated prompt
    is answered from an exact tier without computing an embedding; otherwise the query is
    embedded and only its own partition is searched. When the last message is not a human turn
    the whole prompt must match exactly.

    A hit is a new list of new generation objects each time; chat messages come back with
    ``id=None`` and ``response_metadata`` holding ``cache_hit=True``, ``cache_similarity`` and
    ``cache_tier`` ("exact" or "semantic"). A failure inside the cache (say, the embedding
    service is down) never reaches the caller: the lookup becomes a miss, the write is skipped,
    the error is logged once per exception type and counted in :meth:`stats`.

    Args:
        embedding: An ``Embedder`` or any LangChain ``Embeddings``; default: the offline
            :class:`~binary_semantic_cache.embeddings.DefaultEmbedder`.
        similarity_threshold: Estimated cosine (0..1) a stored question must reach to answer;
            higher is stricter.
        max_entries: Stored answers kept, least recently used evicted first.
        ttl_seconds: Lifetime of an answer; ``None`` keeps answers until evicted.
        namespace: Tenant name; caches never answer across namespaces.
        rescore: Re-rank the nearest codes with their stored vectors before deciding.
        prices: Model name to :class:`ModelPrice`, for the estimated cost saved in stats.

    Example:
        .. code-block:: python

            from langchain_core.globals import set_llm_cache
            from bsc_langchain import BinarySemanticLLMCache

            set_llm_cache(BinarySemanticLLMCache())
            llm.invoke("What is the capital of France?")  # model call
            llm.invoke("What's France's capital city?")  # answered from the cache
    """

    def __init__(
        self,
        embedding: Embedder | Embeddings | None = None,
        *,
        similarity_threshold: float = DEFAULT_SIMILARITY_THRESHOLD,
        max_entries: int = 100_000,
        ttl_seconds: float | None = None,
        namespace: str = "default",
        rescore: bool = False,
        prices: Mapping[str, ModelPrice] | None = None,
    ) -> None:
        _check_arguments(similarity_threshold, max_entries, ttl_seconds, namespace)
        inner: Embedder = DefaultEmbedder() if embedding is None else as_embedder(embedding)
        # The lookup that misses embeds the question; the update after the model call reuses it.
        self._embedder = MemoizedEmbedder(inner, maxsize=_MEMO_SIZE)
        self._model_id = inner.model_id
        self._namespace = namespace
        self._ttl_seconds = ttl_seconds
        self._core = BinarySemanticCache(
            BinaryEncoder(inner.dim),
            max_entries=max_entries,
            similarity_threshold=similarity_threshold,
            ttl_seconds=ttl_seconds,
            rescore=rescore,
        )
        self._exact: BoundedLRU[bytes, _ExactEntry] = BoundedLRU(max_entries)
        # Which namespace and model every live core partition belongs to, for clear(llm_string=).
        # A partition holds at least one entry, so max_entries bounds the live ones.
        self._partitions: BoundedLRU[str, _PartitionOwner] = BoundedLRU(max_entries)
        self._stats = StatsRecorder(prices=dict(prices or {}))
        self._logged_errors: set[tuple[str, type[BaseException]]] = set()
        self._log_lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(embedding={self._model_id!r}, "
            f"similarity_threshold={self._core.similarity_threshold}, "
            f"max_entries={self._core.max_entries}, ttl_seconds={self._ttl_seconds}, "
            f"namespace={self._namespace!r}, rescore={self._core.rescore})"
        )

    @property
    def namespace(self) -> str:
        """The tenant this cache reads and writes."""
        return self._namespace

    @property
    def similarity_threshold(self) -> float:
        """Estimated cosine a stored question must reach to answer a new one."""
        return self._core.similarity_threshold

    def stats(self) -> CacheStats:
        """Return hits (exact and semantic), misses, writes, failures and what hits saved."""
        return self._stats.snapshot()

    # -- BaseCache ------------------------------------------------------------------------

    def lookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        """Return a fresh list of cached generations for this prompt, or ``None``."""
        try:
            found = self._lookup_exact(prompt, llm_string)
            if found is not None:
                return found
            query = self._semantic_query(prompt, llm_string)
            if query is None:
                self._stats.add("misses")
                return None
            partition, text = query
            return self._lookup_semantic(partition, self._embedder.embed([text])[0])
        except Exception as exc:
            self._failed("lookup", exc)
            return None

    async def alookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        """Async :meth:`lookup`; the embedding runs off the event loop."""
        try:
            found = self._lookup_exact(prompt, llm_string)
            if found is not None:
                return found
            query = self._semantic_query(prompt, llm_string)
            if query is None:
                self._stats.add("misses")
                return None
            partition, text = query
            vectors = await self._embedder.aembed([text])
            return self._lookup_semantic(partition, vectors[0])
        except Exception as exc:
            self._failed("lookup", exc)
            return None

    def update(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        """Store the generations the model returned for this prompt."""
        try:
            write = self._prepare_write(prompt, llm_string, return_val)
            vector = None if write.query is None else self._embedder.embed([write.query])[0]
            self._commit_write(write, vector)
        except Exception as exc:
            self._failed("update", exc)

    async def aupdate(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        """Async :meth:`update`; the embedding (memoised by the lookup) runs off the loop."""
        try:
            write = self._prepare_write(prompt, llm_string, return_val)
            vector = None
            if write.query is not None:
                vector = (await self._embedder.aembed([write.query]))[0]
            self._commit_write(write, vector)
        except Exception as exc:
            self._failed("update", exc)

    def clear(self, **kwargs: Any) -> None:
        """Forget stored answers: all of them, or those of one ``llm_string`` and/or ``namespace``.

        Raises:
            TypeError: an argument other than ``llm_string`` or ``namespace`` was given.
        """
        unknown = set(kwargs) - {"llm_string", "namespace"}
        if unknown:
            msg = f"clear() takes only llm_string= and namespace=, got {sorted(unknown)}"
            raise TypeError(msg)
        llm_string = kwargs.get("llm_string")
        namespace = kwargs.get("namespace")
        if llm_string is None and namespace is None:
            self._exact.clear()
            self._partitions.clear()
            self._core.clear()
            self._embedder.clear()
            return
        llm_hash = None if llm_string is None else hash_llm_string(llm_string)

        def owned(owner_namespace: str, owner_llm_hash: str) -> bool:
            return (namespace is None or owner_namespace == namespace) and (
                llm_hash is None or owner_llm_hash == llm_hash
            )

        self._exact.remove_where(lambda _, e: owned(e.namespace, e.llm_hash))
        doomed = self._partitions.remove_where(lambda _, o: owned(o.namespace, o.llm_hash))
        for partition, _ in doomed:
            self._core.clear(partition)

    async def aclear(self, **kwargs: Any) -> None:
        """Async :meth:`clear`, run in a worker thread (clearing scans the stored entries)."""
        await asyncio.to_thread(self.clear, **kwargs)

    # -- lookup ---------------------------------------------------------------------------

    def _exact_key(self, llm_hash: str, prompt: str) -> bytes:
        # The full prompt fixes both the partition and the query, so it stands for the pair.
        digest = hashlib.blake2b(digest_size=16)
        for part in (self._namespace, llm_hash, self._model_id, prompt):
            digest.update(part.encode("utf-8", "surrogatepass"))
            digest.update(b"\x1f")
        return digest.digest()

    def _lookup_exact(self, prompt: str, llm_string: str) -> list[Generation] | None:
        key = self._exact_key(hash_llm_string(llm_string), prompt)
        entry = self._exact.get(key, _ExactEntry.is_live)
        if entry is None:
            return None
        generations = fresh_generations(entry.templates, 1.0, "exact")
        self._stats.hit("exact", generations)
        return generations

    def _semantic_query(self, prompt: str, llm_string: str) -> tuple[str, str] | None:
        """Return (partition, query text) when a semantic lookup can find anything."""
        parts = split_prompt(prompt)
        if parts.query is None:
            return None
        partition = partition_id(
            self._namespace, hash_llm_string(llm_string), self._model_id, parts.context
        )
        # An unseen context has nothing to find: skip the embedding, the update computes it.
        if partition not in self._partitions:
            return None
        return partition, parts.query

    def _lookup_semantic(
        self, partition: str, vector: npt.NDArray[np.float32]
    ) -> list[Generation] | None:
        hit = self._core.get(vector, partition=partition)
        if hit is None:
            self._stats.add("misses")
            return None
        self._partitions.touch(partition)
        payload = json.loads(hit.response)
        generations = fresh_generations(
            load_generations(payload["g"]), float(hit.similarity), "semantic"
        )
        self._stats.hit("semantic", generations)
        return generations

    # -- update ---------------------------------------------------------------------------

    def _prepare_write(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> _Write:
        llm_hash = hash_llm_string(llm_string)
        generations_json = dump_generations(_without_run_ids(return_val))
        # Reviving once here proves the payload loads under the allow-list, and gives the exact
        # tier the same objects a semantic hit would build.
        templates = load_generations(generations_json)
        parts = split_prompt(prompt)
        partition = None
        if parts.query is not None:
            partition = partition_id(self._namespace, llm_hash, self._model_id, parts.context)
        return _Write(
            key=self._exact_key(llm_hash, prompt),
            llm_hash=llm_hash,
            partition=partition,
            query=parts.query,
            payload=json.dumps(
                {"v": _PAYLOAD_VERSION, "q": parts.query, "g": generations_json},
                ensure_ascii=False,
            ),
            templates=templates,
        )

    def _commit_write(self, write: _Write, vector: npt.NDArray[np.float32] | None) -> None:
        core_id = None
        if write.partition is not None and vector is not None:
            core_id = self._core.put(vector, write.payload, partition=write.partition)
            _, pruned = self._partitions.put(
                write.partition, _PartitionOwner(self._namespace, write.llm_hash)
            )
            # Forgetting a partition's owner would let clear(llm_string=) miss it, so its
            # entries go with it; it is the least recently used context, the next to be evicted.
            for partition, _ in pruned:
                self._core.clear(partition)
        expires_at = None
        if self._ttl_seconds is not None:
            expires_at = time.monotonic() + self._ttl_seconds
        replaced, _ = self._exact.put(
            write.key,
            _ExactEntry(write.templates, self._namespace, write.llm_hash, expires_at, core_id),
        )
        # The same prompt written twice (two concurrent misses) keeps one semantic entry.
        if replaced is not None and replaced.core_id is not None:
            self._core.delete(replaced.core_id)
        self._stats.add("writes")

    # -- failures -------------------------------------------------------------------------

    def _failed(self, operation: str, exc: Exception) -> None:
        self._stats.add("errors")
        if operation == "update":
            self._stats.add("skipped_writes")
        else:
            self._stats.add("misses")
        signature = (operation, type(exc))
        with self._log_lock:
            first = signature not in self._logged_errors
            self._logged_errors.add(signature)
        if first:
            logger.warning(
                "cache %s failed with %s; treated as a %s (later %s errors are logged at "
                "DEBUG level)",
                operation,
                type(exc).__name__,
                "skipped write" if operation == "update" else "miss",
                type(exc).__name__,
                exc_info=exc,
            )
        else:
            logger.debug("cache %s failed: %r", operation, exc)


@dataclass(frozen=True, slots=True)
class _Write:
    key: bytes
    llm_hash: str
    partition: str | None
    query: str | None
    payload: str
    templates: list[Generation]


def _without_run_ids(generations: Sequence[Generation]) -> list[Generation]:
    """Copies without the id of the run that produced each message: it is not the answer."""
    out: list[Generation] = []
    for generation in generations:
        message = getattr(generation, "message", None)
        if message is not None and message.id is not None:
            generation = generation.model_copy(
                update={"message": message.model_copy(update={"id": None})}
            )
        out.append(generation)
    return out


def _check_arguments(
    similarity_threshold: float, max_entries: int, ttl_seconds: float | None, namespace: str
) -> None:
    """Raise a ValueError naming the argument, what it must be and what came."""
    if isinstance(similarity_threshold, bool) or not isinstance(similarity_threshold, (int, float)):
        msg = f"similarity_threshold must be a number in [0, 1], got {similarity_threshold!r}"
        raise TypeError(msg)
    if not 0.0 <= similarity_threshold <= 1.0:
        msg = f"similarity_threshold must be within [0, 1], got {similarity_threshold}"
        raise ValueError(msg)
    if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
        msg = f"max_entries must be a positive int, got {max_entries!r}"
        raise ValueError(msg)
    if ttl_seconds is not None and not (
        isinstance(ttl_seconds, (int, float)) and math.isfinite(ttl_seconds) and ttl_seconds > 0
    ):
        msg = f"ttl_seconds must be a positive number of seconds or None, got {ttl_seconds!r}"
        raise ValueError(msg)
    if not isinstance(namespace, str):
        msg = f"namespace must be a str, got {type(namespace).__name__}"
        raise TypeError(msg)
