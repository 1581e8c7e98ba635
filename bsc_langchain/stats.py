"""Counters of the LangChain cache: the shared adapter counters, plus tokens and cost saved."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from langchain_core.outputs import ChatGeneration, Generation

from binary_semantic_cache.adapter_stats import AdapterStats, StatsRecorder

__all__ = ["CacheStats", "CacheStatsRecorder", "ModelPrice"]


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """Price of a model in currency units per million tokens, used to estimate cost saved.

    Example:
        .. code-block:: python

            from bsc_langchain import BinarySemanticLLMCache, ModelPrice

            cache = BinarySemanticLLMCache(prices={"gpt-4o-mini": ModelPrice(0.15, 0.60)})
    """

    input_per_million: float
    output_per_million: float

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """Return the price of a call with these token counts."""
        return (
            input_tokens * self.input_per_million + output_tokens * self.output_per_million
        ) / 1_000_000


@dataclass(frozen=True, slots=True)
class CacheStats(AdapterStats):
    """A snapshot of a cache's counters: the adapters' shared ones, plus what the hits saved.

    ``model_calls_saved`` equals ``hits``: every hit is one model call not made. Token and cost
    figures count only hits whose stored answer carried ``usage_metadata``; cost counts only
    those whose model name is in the price table (``priced_hits``).
    """

    input_tokens_saved: int = 0
    output_tokens_saved: int = 0
    priced_hits: int = 0
    cost_saved: float = 0.0


class CacheStatsRecorder(StatsRecorder[CacheStats]):
    """Thread-safe counters behind :class:`CacheStats`, pricing the hits' token usage."""

    def __init__(self, prices: Mapping[str, ModelPrice] | None = None) -> None:
        super().__init__(CacheStats)
        self.prices: Mapping[str, ModelPrice] = dict(prices or {})

    def hit(self, tier: str, generations: Sequence[Generation]) -> None:
        """Count a hit served by ``tier`` ("exact" or "semantic") with these generations."""
        input_tokens, output_tokens, cost = self._savings(generations)
        names = ["lookups", "hits", f"{tier}_hits"]
        amounts: dict[str, float] = {
            "input_tokens_saved": input_tokens,
            "output_tokens_saved": output_tokens,
        }
        if cost is not None:
            names.append("priced_hits")
            amounts["cost_saved"] = cost
        self.add(*names, **amounts)

    def _savings(self, generations: Sequence[Generation]) -> tuple[int, int, float | None]:
        input_tokens = output_tokens = 0
        cost: float | None = None
        for generation in generations:
            if not isinstance(generation, ChatGeneration):
                continue
            message = generation.message
            usage = getattr(message, "usage_metadata", None)
            if not usage:
                continue
            tokens_in, tokens_out = usage.get("input_tokens", 0), usage.get("output_tokens", 0)
            input_tokens += tokens_in
            output_tokens += tokens_out
            metadata = message.response_metadata
            price = self.prices.get(metadata.get("model_name") or metadata.get("model") or "")
            if price is not None:
                cost = (cost or 0.0) + price.cost(tokens_in, tokens_out)
        return input_tokens, output_tokens, cost
