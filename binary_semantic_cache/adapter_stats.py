"""Counters shared by the framework adapters: lookups, hits by tier, misses, refusals, failures.

Framework-neutral: the LangChain and LlamaIndex adapters count the same things, and an adapter
that counts more (LangChain's tokens and cost saved) extends :class:`AdapterStats` with fields
of its own and hands its class to :class:`StatsRecorder`.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, fields
from typing import Any, Generic, TypeVar

__all__ = ["AdapterStats", "StatsRecorder"]


@dataclass(frozen=True, slots=True)
class AdapterStats:
    """A snapshot of an adapter's counters.

    ``hits`` counts model calls answered by the cache: ``exact_hits`` repeated a stored question
    word for word, ``semantic_hits`` matched one by meaning. ``guard_refusals`` are semantic
    matches the precision guards refused (the stored question differed in a number, a date, a
    name...); each is also a miss. ``errors`` are failures inside the cache, served as misses or
    skipped writes; ``skipped_writes`` are answers that could not be stored.

    Example:
        .. code-block:: python

            stats = cache.stats()
            print(f"{stats.hits} of {stats.lookups} answered from the cache")
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
        """Return the counters, with the derived ones, as a plain dict."""
        return {
            **asdict(self),
            "model_calls_saved": self.model_calls_saved,
            "model_calls": self.model_calls,
            "hit_rate": self.hit_rate,
        }


S = TypeVar("S", bound=AdapterStats)


class StatsRecorder(Generic[S]):
    """Thread-safe counters behind a snapshot class (:class:`AdapterStats` or a subclass).

    Example:
        .. code-block:: python

            recorder = StatsRecorder(AdapterStats)
            recorder.add("lookups", "misses")
            recorder.add("lookups", "hits", "exact_hits")
            assert recorder.snapshot().hit_rate == 0.5
    """

    def __init__(self, snapshot_type: type[S]) -> None:
        self._type = snapshot_type
        self._names = frozenset(f.name for f in fields(snapshot_type))
        self._lock = threading.Lock()
        self._counts: dict[str, Any] = {}

    def add(self, *names: str, **amounts: float) -> None:
        """Add one to each counter in ``names`` and ``amount`` to each in ``amounts``, at once.

        Raises:
            KeyError: a name is not a field of the snapshot class.
        """
        unknown = (set(names) | set(amounts)) - self._names
        if unknown:
            msg = f"unknown counters {sorted(unknown)}; expected some of {sorted(self._names)}"
            raise KeyError(msg)
        with self._lock:
            counts = self._counts
            for name in names:
                counts[name] = counts.get(name, 0) + 1
            for name, amount in amounts.items():
                counts[name] = counts.get(name, 0) + amount

    def snapshot(self) -> S:
        """Return the current counters."""
        with self._lock:
            return self._type(**self._counts)

    def reset(self) -> None:
        """Set every counter back to zero."""
        with self._lock:
            self._counts.clear()
