"""``BinarySemanticLLMCache``: a LangChain cache matching context exactly, questions by meaning.

A translator: LangChain's prompt and generations in, the request engine's request out, its hit
back as fresh generations. The flow itself lives in :mod:`binary_semantic_cache.request_engine`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

from langchain_core.caches import RETURN_VAL_TYPE, BaseCache
from langchain_core.embeddings import Embeddings
from langchain_core.outputs import ChatGenerationChunk, Generation

from binary_semantic_cache.embeddings import DefaultEmbedder, Embedder, as_embedder
from binary_semantic_cache.front_door import FrontDoor
from binary_semantic_cache.request_engine import (
    CacheOptions,
    Hit,
    Request,
    RequestEngine,
    exact_key,
)
from bsc_langchain import streaming
from bsc_langchain.partition import (
    hash_llm_string,
    partition_id,
    partition_prefix,
    split_prompt,
    without_cache_keyword,
)
from bsc_langchain.serialize import (
    StoredAnswer,
    dump_generations,
    fresh_generations,
    load_answer,
    replay_chunks,
    stream_fields,
    without_run_ids,
)
from bsc_langchain.stats import generation_usage

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["BinarySemanticLLMCache"]

logger = logging.getLogger(__name__)


class BinarySemanticLLMCache(BaseCache, FrontDoor):
    """LLM cache for LangChain: exact match on context, semantic match on the last question.

    The partition (what must match exactly) is the namespace, a hash of ``llm_string``, the
    embedder's ``model_id`` and every message but the last human turn, as the model receives
    them (response ids, token counts and fresh tool-call ids aside); the query is the text of the
    last human message, or a plain LLM prompt. A repeated prompt is answered from an in-process
    exact tier without an embedding; when the last message is not a human turn the whole prompt
    must match exactly. Before a semantic hit is served the precision guards compare the two
    questions (numbers, dates, units, negation, names, alternatives, direction, quotes, code, a
    long shared template), then the ``verifier``, if any, scores them; a refusal is a miss,
    counted by reason in ``stats().refusals`` and logged at INFO once per pair.

    A hit is new generation objects each time; chat messages come back with ``id=None`` and
    ``response_metadata`` holding ``cache_hit=True``, ``cache_similarity`` and ``cache_tier``
    ("exact" or "semantic"), which LangChain's callbacks and tracers see in the run's output. A
    failure inside the cache never reaches the caller: it is a miss or a skipped write, logged
    once per exception type and counted in :meth:`stats`. With ``path`` a new process answers
    what an earlier one stored; :meth:`close` (or ``with``) writes out and releases it.

    Args:
        embedding: An ``Embedder`` or any LangChain ``Embeddings``; default: the offline
            :class:`~binary_semantic_cache.embeddings.DefaultEmbedder`.
        namespace: Tenant name; caches never answer across namespaces.
        options: The cache's options, as every front door takes them (see
            :class:`~binary_semantic_cache.request_engine.CacheOptions`):
            ``similarity_threshold``, ``max_entries``, ``ttl_seconds``, ``rescore``, ``path``,
            ``redis_url``, ``redis_cluster``, ``guards``, ``verifier``, ``min_verifier_score``,
            ``exact_tier_size``, ``prices`` (model name to :class:`ModelPrice`, for the cost
            saved), ``tracing``, ``trace_prompts``.

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
        namespace: str = "default",
        **options: Unpack[CacheOptions],
    ) -> None:
        if not isinstance(namespace, str):
            msg = f"namespace must be a str, got {type(namespace).__name__}"
            raise TypeError(msg)
        inner: Embedder = DefaultEmbedder() if embedding is None else as_embedder(embedding)
        streaming.install()  # stream()/astream() of chat models read and write the cache too
        self._model_id = inner.model_id
        self._namespace = namespace
        self._engine: RequestEngine[StoredAnswer] = RequestEngine(
            inner,
            decode=load_answer,
            usage=lambda answer: generation_usage(answer.generations),
            redis_namespace=f"bsc_langchain/{namespace}",
            logger=logger,
            **options,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(embedding={self._model_id!r}, "
            f"namespace={self._namespace!r}, {self._engine.settings_repr()})"
        )

    # -- BaseCache ------------------------------------------------------------------------

    def lookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        """Return a fresh list of cached generations for this prompt, or ``None``."""
        return _generations(self._engine.lookup(self._request(prompt, llm_string)))

    async def alookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        """Async :meth:`lookup`; the embedding runs off the event loop."""
        return _generations(await self._engine.alookup(self._request(prompt, llm_string)))

    def update(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        """Store the generations the model returned for this prompt."""
        self._engine.store(self._request(prompt, llm_string), lambda: _fields(return_val))

    async def aupdate(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        """Async :meth:`update`; the embedding (memoised by the lookup) runs off the loop."""
        await self._engine.astore(self._request(prompt, llm_string), lambda: _fields(return_val))

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
        llm_string, namespace = kwargs.get("llm_string"), kwargs.get("namespace")
        if llm_string is None and namespace is None:
            self._engine.clear()
            return
        self._engine.clear(
            partition_prefix(
                self._namespace if namespace is None else namespace,
                None if llm_string is None else hash_llm_string(llm_string),
            )
        )

    async def aclear(self, **kwargs: Any) -> None:
        """Async :meth:`clear`, run in a worker thread (clearing scans the stored entries)."""
        await asyncio.to_thread(self.clear, **kwargs)

    # -- streams: bsc_langchain.streaming hands chat models' stream() and astream() here ---

    def stream(
        self,
        prompt: str,
        llm_string: str,
        model_stream: Callable[[], Iterator[ChatGenerationChunk]],
    ) -> Iterator[ChatGenerationChunk]:
        """A chat model's stream through the cache: a hit replayed as chunks, a miss relayed
        from ``model_stream()`` and stored once it completes (not when it fails or is dropped)."""
        request = self._request(prompt, llm_string)
        hit = self._engine.lookup(request)
        if hit is not None:
            yield from replay_chunks(hit.answer, hit.marks)
            return
        chunks: list[ChatGenerationChunk] = []
        with self._engine.calling(request):
            for chunk in model_stream():
                chunks.append(chunk)
                yield chunk
        self._engine.store(request, lambda: stream_fields(chunks))

    async def astream(
        self,
        prompt: str,
        llm_string: str,
        model_stream: Callable[[], AsyncIterator[ChatGenerationChunk]],
    ) -> AsyncIterator[ChatGenerationChunk]:
        """Async :meth:`stream`."""
        request = self._request(prompt, llm_string)
        hit = await self._engine.alookup(request)
        if hit is not None:
            for replayed in replay_chunks(hit.answer, hit.marks):
                yield replayed
            return
        chunks: list[ChatGenerationChunk] = []
        with self._engine.calling(request):
            async for chunk in model_stream():
                chunks.append(chunk)
                yield chunk
        await self._engine.astore(request, lambda: stream_fields(chunks))

    def _request(self, prompt: str, llm_string: str) -> Request:
        llm_string, opted_out = without_cache_keyword(llm_string)
        llm_hash = hash_llm_string(llm_string)

        def locate() -> tuple[str, str | None]:
            parts = split_prompt(prompt)
            context = partition_id(self._namespace, llm_hash, self._model_id, parts.context)
            return context, parts.query

        # The full prompt fixes both the partition and the query, so it stands for the pair.
        key = exact_key(self._namespace, llm_hash, self._model_id, prompt)
        return Request(key, locate, "skip" if opted_out else None)


def _generations(hit: Hit[StoredAnswer] | None) -> list[Generation] | None:
    return None if hit is None else fresh_generations(hit.answer.generations, hit.marks)


def _fields(generations: RETURN_VAL_TYPE) -> dict[str, str]:
    return {"g": dump_generations(without_run_ids(generations))}
