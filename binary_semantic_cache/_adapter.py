"""What the framework adapters share: opening their core cache, precision guards, closing.

Framework-neutral (no LangChain or LlamaIndex import); private to the adapters.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import TYPE_CHECKING, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from binary_semantic_cache import _core
from binary_semantic_cache.cache import BinarySemanticCache
from binary_semantic_cache.embeddings.base import Embedder, truncates
from binary_semantic_cache.guards import PrecisionGuards

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "ClosingContext",
    "GuardsArg",
    "IndexArg",
    "PathArg",
    "close_core",
    "exact_only_partition",
    "exact_vector",
    "matched_exactly_if_cut_off",
    "open_core",
    "resolve_guards",
    "word_pieces",
]

# A word and the space after it: how an answer that was not streamed is replayed as a stream.
_WORDS = re.compile(r"\S+\s*|\s+")

#: ``True``: the default checks; ``False``: none; or the guards to run.
GuardsArg: TypeAlias = "bool | PrecisionGuards"
PathArg: TypeAlias = "str | os.PathLike[str] | None"
#: How the core searches a partition (the core refuses any other value with ValueError).
IndexArg: TypeAlias = 'Literal["auto", "flat", "mih", "approx"]'


def exact_only_partition(partition: str, query: str | None) -> str:
    """The partition of a prompt whose question may only match exactly: named by the question too
    (``partition`` itself when there is no question: it names the whole prompt already).

    It starts with ``partition``, so clearing by a partition prefix still reaches it.
    """
    if query is None:
        return partition
    digest = hashlib.blake2b(query.encode("utf-8", "surrogatepass"), digest_size=16)
    return f"{partition}/exact:{digest.hexdigest()}"


def matched_exactly_if_cut_off(
    partition: str, query: str | None, embedder: Embedder, core: _core.BinarySemanticCache
) -> tuple[str, str | None]:
    """(partition, query) to look up or store under: the question's exact-only partition and no
    query when ``embedder`` would see only its start (two questions after one long shared text
    would embed alike), or when that partition already holds it (the embedding server refused
    the question as too long when it was stored).
    """
    if query is None:
        return partition, None
    exact_only = exact_only_partition(partition, query)
    if truncates(embedder, query) or core.has_partition(exact_only):
        return exact_only, None
    return partition, query


class ClosingContext:
    """``with`` support for an adapter: the block's end calls ``close()``."""

    def close(self) -> None:
        """Release what the adapter holds; subclasses say what."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def resolve_guards(guards: GuardsArg) -> PrecisionGuards | None:
    """Return the guards to run before a semantic hit is served, or ``None`` for none.

    Raises:
        TypeError: ``guards`` is neither a bool nor a ``PrecisionGuards``.
    """
    if isinstance(guards, PrecisionGuards):
        return guards
    if isinstance(guards, bool):
        return PrecisionGuards() if guards else None
    msg = (
        "guards must be True, False or a binary_semantic_cache.guards.PrecisionGuards, "
        f"got {type(guards).__name__}"
    )
    raise TypeError(msg)


def open_core(
    dim: int,
    *,
    max_entries: int,
    similarity_threshold: float,
    ttl_seconds: float | None,
    rescore: bool,
    path: PathArg,
    index: IndexArg = "auto",
    redis_url: str | None,
    redis_namespace: str,
    redis_cluster: bool = False,
) -> _core.BinarySemanticCache:
    """Open the cache an adapter keeps its answers in: in memory, in ``path``, and/or shared.

    With ``path`` the answers persist in that directory (one writer per directory); with
    ``redis_url`` every cache with the same ``redis_namespace`` on that Redis (or Redis Cluster,
    with ``redis_cluster``) shares them.

    Raises:
        TypeError: ``path`` or ``redis_url`` has the wrong type.
        OSError: ``path`` is not a directory that can be created, or another writer holds it.
        ValueError: ``path`` holds a cache of other dimensions.
    """
    if path is not None and not isinstance(path, (str, os.PathLike)):
        msg = f"path must be a directory path (str or os.PathLike) or None, got {path!r}"
        raise TypeError(msg)
    if redis_url is not None and not isinstance(redis_url, str):
        msg = f"redis_url must be a redis:// or rediss:// URL string or None, got {redis_url!r}"
        raise TypeError(msg)
    encoder = _core.BinaryEncoder(dim)
    args = (encoder, max_entries, similarity_threshold, ttl_seconds, rescore, path)
    if redis_url is None:
        return _core.BinarySemanticCache(*args, index=index)
    return BinarySemanticCache(
        *args,
        index=index,
        redis_url=redis_url,
        namespace=redis_namespace,
        redis_cluster=redis_cluster,
    )


def close_core(core: _core.BinarySemanticCache) -> None:
    """Stop following Redis (when shared), write out and release the directory (when persisted).

    Idempotent. Lookups and writes after it fail, and an adapter turns those into misses.
    """
    core.close()


def exact_vector(dim: int) -> npt.NDArray[np.float32]:
    """The constant unit vector a prompt that may only match exactly is stored under.

    Its partition already names the whole prompt, so any entry in it is an exact match; it
    shares the core's LRU, TTL, ``max_entries`` and persistence with every other answer.
    """
    vector = np.zeros(dim, dtype=np.float32)
    vector[0] = 1.0
    return vector


def word_pieces(text: str) -> list[str]:
    """``text`` cut after each word's trailing space, for replaying it as a stream; at least one
    piece (``[""]`` for no text)."""
    return _WORDS.findall(text) or [""]
