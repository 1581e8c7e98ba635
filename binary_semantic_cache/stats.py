"""One stats type for every front door: hits by tier, refusals by reason, savings, latencies.

Framework-neutral. The request engine counts into a :class:`StatsRecorder`; the LangChain cache,
the LlamaIndex LLM and the Prometheus exporter all read the same :class:`CacheStats` snapshot.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

__all__ = [
    "LATENCY_BUCKETS",
    "STAGES",
    "CacheStats",
    "LatencyHistogram",
    "ModelPrice",
    "StatsRecorder",
    "Usage",
]

#: The stages whose time is measured: embedding the question, searching the index, verifying.
STAGES: tuple[str, ...] = ("embed", "search", "verify")
#: Upper bounds (seconds) of the latency buckets, from 50 us (a search) to 10 s (a slow server).
LATENCY_BUCKETS: tuple[float, ...] = (
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


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


class Usage(NamedTuple):
    """Tokens a stored answer cost when the model produced it, and the model that did."""

    input_tokens: int
    output_tokens: int
    model: str | None


@dataclass(frozen=True, slots=True)
class LatencyHistogram:
    """Durations of one stage: ``counts[i]`` fell at or below ``LATENCY_BUCKETS[i]`` and above
    the bucket before; the last count is above every bound.
    """

    counts: tuple[int, ...] = (0,) * (len(LATENCY_BUCKETS) + 1)
    total_seconds: float = 0.0

    @property
    def count(self) -> int:
        """How many durations were measured."""
        return sum(self.counts)

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, durations at or below it) per bucket; the last bound is ``inf``."""
        out: list[tuple[float, int]] = []
        seen = 0
        for bound, count in zip((*LATENCY_BUCKETS, math.inf), self.counts, strict=True):
            seen += count
            out.append((bound, seen))
        return out

    def quantile(self, q: float) -> float | None:
        """The upper bound of the bucket holding the ``q`` quantile (``inf`` past the last),
        or ``None`` before the first measurement."""
        if not self.count:
            return None
        rank = q * self.count
        return next(bound for bound, seen in self.cumulative() if seen >= rank)


@dataclass(frozen=True, slots=True)
class CacheStats:
    """A snapshot of a cache's counters.

    ``hits`` counts model calls answered by the cache: ``exact_hits`` repeated a stored question
    word for word, ``semantic_hits`` matched one by meaning. ``refusals`` are semantic matches
    refused before they were served, by reason (``"guard:<check>"`` for a precision guard such
    as ``guard:numbers``, ``"verifier"``, ``"bound"``); each is also a miss, and
    ``guard_refusals`` counts the guards' share. ``errors`` are failures inside the cache,
    served as misses or skipped writes; ``skipped_writes`` are answers that could not be stored.
    ``bypassed`` lookups ran under ``skip()`` or ``refresh()`` (misses too); ``waits`` are
    lookups that waited for a concurrent caller's model call of the same prompt;
    ``reported_wrong`` counts ``report_wrong()`` calls.
    Tokens and cost count only hits whose stored answer carried its token usage; cost only those
    whose model is in the price table (``priced_hits``). ``latency`` holds a histogram per stage
    of :data:`STAGES`.

    Example:
        .. code-block:: python

            stats = cache.stats()
            print(f"{stats.hits} of {stats.lookups} answered from the cache")
            print(stats.refusals)  # {'guard:numbers': 2, 'guard:dates': 1}
    """

    lookups: int = 0
    hits: int = 0
    exact_hits: int = 0
    semantic_hits: int = 0
    misses: int = 0
    guard_refusals: int = 0
    writes: int = 0
    errors: int = 0
    skipped_writes: int = 0
    bypassed: int = 0
    waits: int = 0
    reported_wrong: int = 0
    input_tokens_saved: int = 0
    output_tokens_saved: int = 0
    priced_hits: int = 0
    cost_saved: float = 0.0
    refusals: Mapping[str, int] = field(default_factory=dict)
    latency: Mapping[str, LatencyHistogram] = field(default_factory=dict)

    @property
    def model_calls_saved(self) -> int:
        """Model calls answered by the cache instead of the model (every hit is one)."""
        return self.hits

    @property
    def model_calls(self) -> int:
        """Calls that went on to the model (every lookup that was not a hit)."""
        return self.lookups - self.hits

    @property
    def hit_rate(self) -> float:
        """Hits per lookup, 0.0 before the first lookup."""
        return self.hits / self.lookups if self.lookups else 0.0

    def as_dict(self) -> dict[str, Any]:
        """Return the counters, with the derived ones, as plain data (JSON-ready)."""
        return {
            **asdict(self),
            "refusals": dict(self.refusals),
            "latency": {stage: asdict(h) for stage, h in self.latency.items()},
            "model_calls_saved": self.model_calls_saved,
            "model_calls": self.model_calls,
            "hit_rate": self.hit_rate,
        }


_COUNTERS = frozenset(
    name for name in CacheStats.__dataclass_fields__ if name not in ("refusals", "latency")
)


_TIER_HITS = {"exact": "exact_hits", "semantic": "semantic_hits"}


class StatsRecorder:
    """Thread-safe counters behind :class:`CacheStats`, pricing the hits' token usage.

    Example:
        .. code-block:: python

            recorder = StatsRecorder()
            recorder.add("lookups", "misses")
            recorder.hit("exact", [])
            assert recorder.snapshot().hit_rate == 0.5
    """

    def __init__(self, prices: Mapping[str, ModelPrice] | None = None) -> None:
        self.prices: Mapping[str, ModelPrice] = dict(prices or {})
        self._lock = threading.Lock()
        self._counts: dict[str, Any] = {}
        self._refusals: dict[str, int] = {}
        self._latency: dict[str, tuple[list[int], list[float]]] = {}

    def add(self, *names: str, **amounts: float) -> None:
        """Add one to each counter in ``names`` and ``amount`` to each in ``amounts``, at once.

        Raises:
            KeyError: a name is not a counter of :class:`CacheStats`.
        """
        if not (_COUNTERS.issuperset(names) and _COUNTERS.issuperset(amounts)):
            unknown = (set(names) | set(amounts)) - _COUNTERS
            msg = f"unknown counters {sorted(unknown)}; expected some of {sorted(_COUNTERS)}"
            raise KeyError(msg)
        with self._lock:
            counts = self._counts
            for name in names:
                counts[name] = counts.get(name, 0) + 1
            for name, amount in amounts.items():
                counts[name] = counts.get(name, 0) + amount

    def hit(self, tier: str, usage: Iterable[Usage]) -> None:
        """Count a hit served by ``tier`` ("exact" or "semantic") whose answer cost ``usage``."""
        tier_hits = _TIER_HITS[tier]
        input_tokens = output_tokens = priced = 0
        cost = 0.0
        for tokens_in, tokens_out, model in usage:
            input_tokens += tokens_in
            output_tokens += tokens_out
            price = self.prices.get(model or "")
            if price is not None:
                priced = 1
                cost += price.cost(tokens_in, tokens_out)
        # Written out rather than through add(): every hit, repeats included, comes here.
        with self._lock:
            counts = self._counts
            counts["lookups"] = counts.get("lookups", 0) + 1
            counts["hits"] = counts.get("hits", 0) + 1
            counts[tier_hits] = counts.get(tier_hits, 0) + 1
            if input_tokens or output_tokens:
                counts["input_tokens_saved"] = counts.get("input_tokens_saved", 0) + input_tokens
                counts["output_tokens_saved"] = counts.get("output_tokens_saved", 0) + output_tokens
            if priced:
                counts["priced_hits"] = counts.get("priced_hits", 0) + 1
                counts["cost_saved"] = counts.get("cost_saved", 0.0) + cost

    def refused(self, reason: str) -> None:
        """Count a semantic match refused for ``reason`` (a miss too)."""
        guard = reason.startswith("guard:")
        self.add("lookups", "misses", *(("guard_refusals",) if guard else ()))
        with self._lock:
            self._refusals[reason] = self._refusals.get(reason, 0) + 1

    def timed(self, stage: str, seconds: float) -> None:
        """Add one duration of ``stage`` to its histogram."""
        index = bisect.bisect_left(LATENCY_BUCKETS, seconds)
        with self._lock:
            counts, total = self._latency.setdefault(
                stage, ([0] * (len(LATENCY_BUCKETS) + 1), [0.0])
            )
            counts[index] += 1
            total[0] += seconds

    def snapshot(self) -> CacheStats:
        """Return the current counters."""
        with self._lock:
            latency = {
                stage: LatencyHistogram(tuple(counts), total[0])
                for stage, (counts, total) in self._latency.items()
            }
            return CacheStats(**self._counts, refusals=dict(self._refusals), latency=latency)

    def reset(self) -> None:
        """Set every counter back to zero."""
        with self._lock:
            self._counts.clear()
            self._refusals.clear()
            self._latency.clear()
