"""The LangChain cache's stats: the one :class:`CacheStats` type, and what a hit's tokens were.

``CacheStats`` and ``ModelPrice`` are :mod:`binary_semantic_cache.stats`' own, re-exported.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.outputs import ChatGeneration, Generation

from binary_semantic_cache.stats import CacheStats, ModelPrice, Usage

__all__ = ["CacheStats", "ModelPrice", "generation_usage"]


def generation_usage(generations: Sequence[Generation]) -> list[Usage]:
    """The token usage stored with chat generations (``usage_metadata``) and their model's name."""
    out: list[Usage] = []
    for generation in generations:
        if not isinstance(generation, ChatGeneration):
            continue
        message = generation.message
        usage = getattr(message, "usage_metadata", None)
        if not usage:
            continue
        metadata = message.response_metadata
        model = metadata.get("model_name") or metadata.get("model")
        out.append(Usage(usage.get("input_tokens", 0), usage.get("output_tokens", 0), model))
    return out
