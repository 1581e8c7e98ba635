"""Counters of the LlamaIndex LLM cache: hits by tier, misses, and failures turned into misses."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import asdict, dataclass, fields
from typing import Any

__all__ = ["CacheStats", "StatsRecorder"]


@dataclass(frozen=True, slots=True)
class CacheStats:
    """A snapshot of a cache's counters.

    ``hits`` counts model calls answered by the cache: ``exact_hits`` repeated a stored question
    word for word, ``semantic_hits`` matched one by meaning. ``errors`` are lookups that failed
    inside the cache and were served as misses; ``skipped_writes`` are answers that could not be
    stored. ``model_calls`` is how many calls reached the wrapped model.

    Example:
        .. code-block:: python

            stats = Settings.llm.stats()
            print(f"{stats.hits} of {stats.lookups} answered from the cache")
    """

    lookups: int = 0
    hits: int = 0
    exact_hits: int = 0
    semantic_hits: int = 0
    misses: int = 0
    writes: int = 0
    errors: int = 0
    skipped_writes: int = 0

    @property
    def model_calls(self) -> int:
        """Calls that went to the wrapped model (every lookup that was not a hit)."""
        return self.lookups - self.hits

    @property
    def hit_rate(self) -> float:
        """Hits per lookup, 0.0 before the first lookup."""
        return self.hits / self.lookups if self.lookups else 0.0

    def as_dict(self) -> dict[str, Any]:
        """Return the counters, with the derived ones, as a plain dict."""
        return {**asdict(self), "model_calls": self.model_calls, "hit_rate": self.hit_rate}


_NAMES = frozenset(f.name for f in fields(CacheStats))


class StatsRecorder:
    """Thread-safe counters behind :class:`CacheStats`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, *names: str) -> None:
        """Add one to each named counter."""
        with self._lock:
            for name in names:
                if name not in _NAMES:
                    msg = f"unknown counter {name!r}"
                    raise KeyError(msg)
                self._counts[name] += 1

    def snapshot(self) -> CacheStats:
        """Return the current counters."""
        with self._lock:
            return CacheStats(**self._counts)
