"""Counters of the LlamaIndex LLM cache: the ones every adapter keeps.

``CacheStats`` is :class:`binary_semantic_cache.adapter_stats.AdapterStats`: lookups, hits by
tier, misses, guard refusals, writes and failures turned into misses or skipped writes.

Example:
    .. code-block:: python

        stats = Settings.llm.stats()
        print(f"{stats.hits} of {stats.lookups} answered from the cache")
"""

from __future__ import annotations

from binary_semantic_cache.adapter_stats import AdapterStats as CacheStats
from binary_semantic_cache.adapter_stats import StatsRecorder

__all__ = ["CacheStats", "StatsRecorder"]
