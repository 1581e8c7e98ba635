"""Counters of the LlamaIndex LLM cache: the one stats type every front door returns.

``CacheStats`` and ``ModelPrice`` are :mod:`binary_semantic_cache.stats`' own, re-exported.

Example:
    .. code-block:: python

        stats = Settings.llm.stats()
        print(f"{stats.hits} of {stats.lookups} answered from the cache")
"""

from __future__ import annotations

from binary_semantic_cache.stats import CacheStats, ModelPrice

__all__ = ["CacheStats", "ModelPrice"]
