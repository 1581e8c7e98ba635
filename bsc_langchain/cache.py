"""``BinarySemanticLLMCache``: a LangChain cache matching context exactly, questions by meaning."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from langchain_core.caches import RETURN_VAL_TYPE, BaseCache
from langchain_core.embeddings import Embeddings
from langchain_core.outputs import Generation

from binary_semantic_cache import DEFAULT_SIMILARITY_THRESHOLD
from binary_semantic_cache._adapter import (
    ClosingContext,
    GuardsArg,
    PathArg,
    close_core,
    exact_only_partition,
    exact_vector,
    matched_exactly_if_cut_off,
    open_core,
    resolve_guards,
)
from binary_semantic_cache.embeddings import (
    DefaultEmbedder,
    Embedder,
    InputTooLongError,
    MemoizedEmbedder,
    as_embedder,
)
from binary_semantic_cache.failures import FailureLog
from bsc_langchain.lru import BoundedLRU
from bsc_langchain.partition import (
    hash_llm_string,
    partition_id,
    partition_prefix,
    split_prompt,
)
from bsc_langchain.serialize import dump_generations, fresh_generations, load_generations
from bsc_langchain.stats import CacheStats, CacheStatsRecorder, ModelPrice

__all__ = ["BinarySemanticLLMCache"]

logger = logging.getLogger(__name__)

# Enough for every prompt of a large `batch()` between its lookups and its updates.
_MEMO_SIZE = 4096
_PAYLOAD_VERSION = 1
#: Prompts whose revived answers the exact tier keeps by default.
DEFAULT_EXACT_TIER_SIZE = 4096


@dataclass(frozen=True, slots=True)
class _ExactEntry:
    """What the exact tier keeps for one full prompt: revived generations, never JSON."""

    templates: list[Generation]
    partition: str
    expires_at: float | None  # wall clock, as stored in the payload
    core_id: int | None


@dataclass(frozen=True, slots=True)
class _Lookup:
    """A lookup the exact tier could not answer: where to search and for what."""

    key: bytes
    partition: str
    query: str | None


class BinarySemanticLLMCache(BaseCache, ClosingContext):
    """LLM cache for LangChain: exact match on context, semantic match on the last question.

    A prompt is split into a partition (namespace, a hash of ``llm_string``, the embedder's
    ``model_id``, the system prompt, history, tool calls and results and any non-text content,
    as the model receives them: response ids, token counts and fresh tool-call ids aside)
    and a query (the text of the last human message, or a plain LLM prompt). A repeated prompt
    is answered from a bounded in-process exact tier without computing an embedding; otherwise
    the query is embedded and only its own partition is searched. When the last message is not
    a human turn the whole prompt must match exactly (it is stored under a partition of its own).

    Before a semantic (non-exact) hit is served, precision guards compare the new question with
    the stored one and refuse the hit when they differ in what usually changes an answer
    (numbers, dates, units, negation, names, alternatives such as adults/children, swapped terms
    such as "A to B" and "B to A", quoted text, code, or the rest of a long shared template); a
    refusal is a miss, counted in ``stats().guard_refusals`` (only the nearest stored question
    is compared; a farther one is not tried).

    A hit is a new list of new generation objects each time; chat messages come back with
    ``id=None`` and ``response_metadata`` holding ``cache_hit=True``, ``cache_similarity`` and
    ``cache_tier`` ("exact" or "semantic"). A failure inside the cache (say, the embedding
    service is down) never reaches the caller: the lookup becomes a miss, the write is skipped,
    the error is logged once per exception type and counted in :meth:`stats`.

    Everything needed to answer lives in the core cache, so with ``path`` a new process (a new
    instance over the same directory) answers what an earlier one stored. Call :meth:`close`
    (or use the cache as a context manager) to write out and release the directory.

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
        path: A directory to persist the answers in (one writer per directory); ``None``: in
            memory only.
        redis_url: ``redis://`` or ``rediss://`` URL: caches with the same ``namespace`` on that
            Redis share their answers (lookups are still served locally).
        redis_cluster: ``redis_url`` names a node of a Redis Cluster.
        guards: ``True`` (default) runs the default
            :class:`~binary_semantic_cache.guards.PrecisionGuards`, ``False`` none, or pass your
            own ``PrecisionGuards(checks=...)``.
        exact_tier_size: Prompts whose revived answers are kept in process for repeats; a
            repeat beyond them is still answered exactly, from the core.

    Example:
        .. code-block:: python

            from langchain_core.globals import set_llm_cache
            from bsc_langchain import BinarySemanticLLMCache

            set_llm_cache(BinarySemanticLLMCache(path="./llm-cache"))
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
        path: PathArg = None,
        redis_url: str | None = None,
        redis_cluster: bool = False,
        guards: GuardsArg = True,
        exact_tier_size: int = DEFAULT_EXACT_TIER_SIZE,
    ) -> None:
        _check_arguments(similarity_threshold, max_entries, ttl_seconds, namespace)
        if (
            isinstance(exact_tier_size, bool)
            or not isinstance(exact_tier_size, int)
            or exact_tier_size < 1
        ):
            msg = f"exact_tier_size must be a positive int, got {exact_tier_size!r}"
            raise ValueError(msg)
        self._guards = resolve_guards(guards)
        inner: Embedder = DefaultEmbedder() if embedding is None else as_embedder(embedding)
        # The lookup that misses embeds the question; the update after the model call reuses it.
        self._embedder = MemoizedEmbedder(inner, maxsize=_MEMO_SIZE)
        self._model_id = inner.model_id
        self._namespace = namespace
        self._ttl_seconds = ttl_seconds
        self._exact_vector = exact_vector(inner.dim)
        self._core = open_core(
            inner.dim,
            max_entries=max_entries,
            similarity_threshold=similarity_threshold,
            ttl_seconds=ttl_seconds,
            rescore=rescore,
            path=path,
            redis_url=redis_url,
            redis_namespace=f"bsc_langchain/{namespace}",
            redis_cluster=redis_cluster,
        )
        self._exact: BoundedLRU[bytes, _ExactEntry] = BoundedLRU(exact_tier_size)
        self._stats = CacheStatsRecorder(prices)
        self._failures = FailureLog(logger)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(embedding={self._model_id!r}, "
            f"similarity_threshold={self._core.similarity_threshold}, "
            f"max_entries={self._core.max_entries}, ttl_seconds={self._ttl_seconds}, "
            f"namespace={self._namespace!r}, rescore={self._core.rescore}, "
            f"path={None if self._core.path is None else str(self._core.path)!r}, "
            f"guards={self._guards!r})"
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
        """Return hits (exact and semantic), misses, guard refusals, writes, failures, savings."""
        return self._stats.snapshot()

    def close(self) -> None:
        """Write out and release the directory (with ``path``), stop following Redis.

        Idempotent. A lookup or update after it is a miss or a skipped write, never an error.
        """
        close_core(self._core)
        self._exact.clear()

    # -- BaseCache ------------------------------------------------------------------------

    def lookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        """Return a fresh list of cached generations for this prompt, or ``None``."""
        try:
            found, pending = self._lookup_exact(prompt, llm_string)
            if pending is None:
                return found
            vector = self._exact_vector
            if pending.query is not None:
                vector = self._embedder.embed([pending.query])[0]
            return self._lookup_core(pending, vector)
        except InputTooLongError:
            # Its exact-only partition was checked before the embedding: nothing is stored.
            self._stats.add("lookups", "misses")
            return None
        except Exception as exc:
            self._failed("lookup", exc)
            return None

    async def alookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        """Async :meth:`lookup`; the embedding runs off the event loop."""
        try:
            found, pending = self._lookup_exact(prompt, llm_string)
            if pending is None:
                return found
            vector = self._exact_vector
            if pending.query is not None:
                vector = (await self._embedder.aembed([pending.query]))[0]
            return self._lookup_core(pending, vector)
        except InputTooLongError:
            self._stats.add("lookups", "misses")
            return None
        except Exception as exc:
            self._failed("lookup", exc)
            return None

    def update(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        """Store the generations the model returned for this prompt."""
        try:
            write = self._prepare_write(prompt, llm_string, return_val)
            vector = self._exact_vector
            if write.query is not None:
                try:
                    vector = self._embedder.embed([write.query])[0]
                except InputTooLongError:
                    write = write.exact_only()
            self._commit_write(write, vector)
        except Exception as exc:
            self._failed("update", exc)

    async def aupdate(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        """Async :meth:`update`; the embedding (memoised by the lookup) runs off the loop."""
        try:
            write = self._prepare_write(prompt, llm_string, return_val)
            vector = self._exact_vector
            if write.query is not None:
                try:
                    vector = (await self._embedder.aembed([write.query]))[0]
                except InputTooLongError:
                    write = write.exact_only()
            self._commit_write(write, vector)
        except Exception as exc:
            self._failed("update", exc)

    def clear(self, **kwargs: Any) -> None:
        """Forget stored answers: all of them, or those of one ``llm_string`` and/or ``namespace``.

        ``clear(llm_string=...)`` forgets that model's answers in this cache's own namespace
        (the only one it reads and writes) unless ``namespace=`` names another; with
        ``path``, in the directory too. Shared through Redis, a full ``clear()`` reaches every
        instance; a ``clear(llm_string=...)`` or ``clear(namespace=...)`` only this one.

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
            self._core.clear()
            self._embedder.clear()
            return
        prefix = partition_prefix(
            self._namespace if namespace is None else namespace,
            None if llm_string is None else hash_llm_string(llm_string),
        )
        self._exact.remove_where(lambda _, entry: entry.partition.startswith(prefix))
        self._core.clear_prefix(prefix)

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

    def _is_live(self, entry: _ExactEntry) -> bool:
        # A partition gone from the core was cleared (here or, when shared, by another
        # instance) or evicted whole: its answers go from the exact tier too.
        return (
            entry.expires_at is None or time.time() < entry.expires_at
        ) and self._core.has_partition(entry.partition)

    def _partition(self, prompt: str, llm_hash: str) -> tuple[str, str | None]:
        """(partition, query) of a prompt; no query when it may only match exactly."""
        parts = split_prompt(prompt)
        partition = partition_id(self._namespace, llm_hash, self._model_id, parts.context)
        return matched_exactly_if_cut_off(partition, parts.query, self._embedder, self._core)

    def _lookup_exact(
        self, prompt: str, llm_string: str
    ) -> tuple[list[Generation] | None, _Lookup | None]:
        """Return (the exact tier's answer, None), or (None, what the core must look up).

        Returns (None, None) for a miss that needs no search.
        """
        llm_hash = hash_llm_string(llm_string)
        key = self._exact_key(llm_hash, prompt)
        entry = self._exact.get(key, self._is_live)
        if entry is not None:
            generations = fresh_generations(entry.templates, 1.0, "exact")
            self._stats.hit("exact", generations)
            return generations, None
        partition, query = self._partition(prompt, llm_hash)
        # An unseen context has nothing to find: skip the embedding, the update computes it.
        if not self._core.has_partition(partition):
            self._stats.add("lookups", "misses")
            return None, None
        return None, _Lookup(key, partition, query)

    def _lookup_core(
        self, pending: _Lookup, vector: npt.NDArray[np.float32]
    ) -> list[Generation] | None:
        hit = self._core.get(vector, partition=pending.partition)
        if hit is None:
            self._stats.add("lookups", "misses")
            return None
        payload = json.loads(hit.response)
        stored_query = payload["q"]
        templates = load_generations(payload["g"])
        if stored_query == pending.query:
            # The same question (or the same exact-only prompt): keep it for the next repeat.
            expires_at = payload.get("e")
            self._exact.put(
                pending.key, _ExactEntry(templates, pending.partition, expires_at, hit.id)
            )
            generations = fresh_generations(templates, 1.0, "exact")
            self._stats.hit("exact", generations)
            return generations
        if self._guards is not None and pending.query is not None:
            reason = self._guards.check(pending.query, stored_query)
            if reason is not None:
                logger.debug("semantic hit refused by the precision guards: %s", reason)
                self._stats.add("lookups", "misses", "guard_refusals")
                return None
        generations = fresh_generations(templates, float(hit.similarity), "semantic")
        self._stats.hit("semantic", generations)
        return generations

    # -- update ---------------------------------------------------------------------------

    def _prepare_write(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> _Write:
        llm_hash = hash_llm_string(llm_string)
        generations_json = dump_generations(_without_run_ids(return_val))
        # Reviving once here proves the payload loads under the allow-list, and gives the exact
        # tier the same objects a semantic hit would build.
        templates = load_generations(generations_json)
        partition, query = self._partition(prompt, llm_hash)
        expires_at = None if self._ttl_seconds is None else time.time() + self._ttl_seconds
        return _Write(
            key=self._exact_key(llm_hash, prompt),
            partition=partition,
            query=query,
            generations_json=generations_json,
            templates=templates,
            expires_at=expires_at,
        )

    def _commit_write(self, write: _Write, vector: npt.NDArray[np.float32]) -> None:
        payload = json.dumps(
            {
                "v": _PAYLOAD_VERSION,
                "q": write.query,
                "g": write.generations_json,
                "e": write.expires_at,
            },
            ensure_ascii=False,
        )
        core_id = self._core.put(vector, payload, partition=write.partition)
        replaced, _ = self._exact.put(
            write.key, _ExactEntry(write.templates, write.partition, write.expires_at, core_id)
        )
        # The same prompt written twice (two concurrent misses) keeps one entry.
        if replaced is not None and replaced.core_id not in (None, core_id):
            self._core.delete(replaced.core_id)
        self._stats.add("writes")

    # -- failures -------------------------------------------------------------------------

    def _failed(self, operation: str, exc: Exception) -> None:
        if operation == "update":
            self._stats.add("errors", "skipped_writes")
            self._failures.record(operation, exc, treated_as="skipped write")
        else:
            self._stats.add("errors", "lookups", "misses")
            self._failures.record(operation, exc, treated_as="miss")


@dataclass(frozen=True, slots=True)
class _Write:
    key: bytes
    partition: str
    query: str | None
    generations_json: str
    templates: list[Generation]
    expires_at: float | None

    def exact_only(self) -> _Write:
        """This write for a question the embedding server refused as too long."""
        return replace(self, partition=exact_only_partition(self.partition, self.query), query=None)


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
