"""A token bucket for requests-per-minute and tokens-per-minute limits."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["TokenBucket"]


class TokenBucket:
    """Holds up to ``per_minute`` units and refills at ``per_minute / 60`` units a second.

    :meth:`reserve` takes the units at once, letting the level go negative, and returns how
    long the caller must wait before using them. Callers that reserve later queue behind
    earlier ones, threads and coroutines alike, and the lock is never held while waiting.

    Example:
        .. code-block:: python

            bucket = TokenBucket(per_minute=60)
            time.sleep(bucket.reserve())  # at most one call a second once the burst is spent
    """

    def __init__(self, per_minute: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute <= 0:
            raise ValueError(f"per_minute must be positive, got {per_minute}")
        self._capacity = float(per_minute)
        self._rate = per_minute / 60.0
        self._clock = clock
        self._level = self._capacity
        self._updated = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._level = min(self._capacity, self._level + (now - self._updated) * self._rate)
        self._updated = now

    def reserve(self, amount: float = 1.0) -> float:
        """Take ``amount`` units; return the seconds to wait before using them."""
        # More than a full bucket could never be granted; charge a full bucket instead.
        amount = min(float(amount), self._capacity)
        with self._lock:
            self._refill()
            self._level -= amount
            return 0.0 if self._level >= 0 else -self._level / self._rate

    def adjust(self, delta: float) -> None:
        """Charge ``delta`` more units (or refund, if negative) after the true cost is known."""
        with self._lock:
            self._refill()
            self._level = min(self._capacity, self._level - delta)
