"""What every front door (the LangChain cache, the LlamaIndex LLM) offers over its engine."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from binary_semantic_cache._adapter import ClosingContext
from binary_semantic_cache.request_engine import RequestEngine
from binary_semantic_cache.stats import CacheStats

__all__ = ["FrontDoor"]


class FrontDoor(ClosingContext):
    """The namespace, threshold, stats and close of an adapter holding ``_engine`` and
    ``_namespace``; ``with`` closes it at the block's end."""

    _engine: RequestEngine[Any]
    _namespace: str

    @property
    def namespace(self) -> str:
        """The tenant this cache reads and writes."""
        return self._namespace

    @property
    def similarity_threshold(self) -> float:
        """Estimated cosine a stored question must reach to answer a new one."""
        return self._engine.core.similarity_threshold

    def stats(self) -> CacheStats:
        """Return hits by tier, misses, refusals by reason, writes, failures, savings, latency."""
        return self._engine.stats()

    def close(self) -> None:
        """Write out and release the directory (with ``path``), stop following Redis.

        Idempotent. A call after it goes on to the model (its lookup is a miss and its answer
        is not stored), never an error.
        """
        self._engine.close()

    def abandon_led(self) -> None:
        """Let callers waiting for the model calls the current context makes go on to call the
        model themselves: those calls failed."""
        self._engine.abandon_led()

    def report_wrong(self, metadata: Mapping[str, Any]) -> bool:
        """Say that a cached answer was wrong, from the hit's metadata (LangChain: the message's
        ``response_metadata``; LlamaIndex: the response's ``additional_kwargs``): the entry is
        deleted and paraphrases near that question must clear a higher bar.

        Returns whether the entry was still stored.
        """
        return self._engine.report_wrong(metadata)
