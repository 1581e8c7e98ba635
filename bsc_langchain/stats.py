"""Counters for the LangChain cache: hits by tier, misses, failures, and what the hits saved."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from langchain_core.outputs import ChatGeneration, Generation

__all__ = ["CacheStats", "ModelPrice", "StatsRecorder"]


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
class CacheStats:
    """A snapshot of a cache's counters.

    ``model_calls_saved`` equals ``hits``: every hit is one model call not made. Token and cost
    figures count only hits whose stored answer carried ``usage_metadata``; cost counts only
    those whose model name is in the price table (``priced_hits``).
    """

    lookups: int = 0
    hits: int = 0
    exact_hits: int = 0
    semantic_hits: int = 0
    misses: int = 0
    writes: int = 0
    errors: int = 0
    skipped_writes: int = 0
    input_tokens_saved: int = 0
    output_tokens_saved: int = 0
    priced_hits: int = 0
    cost_saved: float = 0.0

    @property
    def model_calls_saved(self) -> int:
        """Model calls answered by the cache instead of the model."""
        return self.hits

    @property
    def hit_rate(self) -> float:
        """Hits per lookup, 0.0 before the first lookup."""
        return self.hits / self.lookups if self.lookups else 0.0

    def as_dict(self) -> dict[str, Any]:
        """Return the counters, including the derived ones, as a plain dict."""
        return {
            **asdict(self),
            "model_calls_saved": self.model_calls_saved,
            "hit_rate": self.hit_rate,
        }


@dataclass
class StatsRecorder:
    """Thread-safe mutable counters behind :class:`CacheStats`."""

    prices: Mapping[str, ModelPrice] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _counts: dict[str, Any] = field(default_factory=lambda: asdict(CacheStats()), repr=False)

    def hit(self, tier: str, generations: Sequence[Generation]) -> None:
        """Count a hit served by ``tier`` ("exact" or "semantic") with these generations."""
        input_tokens, output_tokens, cost = self._savings(generations)
        with self._lock:
            c = self._counts
            c["lookups"] += 1
            c["hits"] += 1
            c[f"{tier}_hits"] += 1
            c["input_tokens_saved"] += input_tokens
            c["output_tokens_saved"] += output_tokens
            if cost is not None:
                c["priced_hits"] += 1
                c["cost_saved"] += cost

    def add(self, name: str, count: int = 1) -> None:
        """Add to one counter: ``misses``, ``writes``, ``errors`` or ``skipped_writes``."""
        with self._lock:
            self._counts[name] += count
            if name == "misses":
                self._counts["lookups"] += count

    def snapshot(self) -> CacheStats:
        """Return the current counters."""
        with self._lock:
            return CacheStats(**self._counts)

    def reset(self) -> None:
        """Set every counter back to zero."""
        with self._lock:
            self._counts = asdict(CacheStats())

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
