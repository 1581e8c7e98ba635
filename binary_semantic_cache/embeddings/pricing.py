"""Prices of embedding models and a per-day spending limit."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone

from binary_semantic_cache.embeddings.errors import BudgetExceededError

__all__ = ["DEFAULT_PRICES_PER_MILLION_TOKENS", "DailyBudget", "PriceTable"]

#: USD per million input tokens (OpenAI's list prices). Models not listed cost 0, which
#: suits local servers; pass ``prices=`` to price anything else or to update these.
DEFAULT_PRICES_PER_MILLION_TOKENS: Mapping[str, float] = {
    "text-embedding-3-small": 0.02,
    "text-embedding-3-large": 0.13,
    "text-embedding-ada-002": 0.10,
}


class PriceTable:
    """Turns token counts into USD from a table of prices per million tokens.

    Example:
        .. code-block:: python

            prices = PriceTable({"my-model": 0.05})
            prices.cost("my-model", 2_000_000)  # 0.1
    """

    def __init__(self, overrides: Mapping[str, float] | None = None) -> None:
        table = dict(DEFAULT_PRICES_PER_MILLION_TOKENS)
        for model, price in (overrides or {}).items():
            if price < 0:
                raise ValueError(f"price for {model!r} must be >= 0, got {price}")
            table[model] = float(price)
        self._per_million = table

    def cost(self, model: str, tokens: int) -> float:
        return self._per_million.get(model, 0.0) * tokens / 1_000_000


class DailyBudget:
    """Refuses calls once the day's spending (UTC) would pass ``limit_usd``.

    Example:
        .. code-block:: python

            budget = DailyBudget(5.0)
            budget.check(0.01)  # raises BudgetExceededError once 5 USD are spent today
            budget.add(0.01)
    """

    def __init__(self, limit_usd: float | None, *, clock: Callable[[], float] = time.time) -> None:
        if limit_usd is not None and limit_usd < 0:
            raise ValueError(f"limit_usd must be >= 0, got {limit_usd}")
        self._limit = limit_usd
        self._clock = clock
        self._day = self._today()
        self._spent = 0.0
        self._lock = threading.Lock()

    def _today(self) -> str:
        return datetime.fromtimestamp(self._clock(), tz=timezone.utc).date().isoformat()

    def _roll(self) -> None:
        today = self._today()
        if today != self._day:
            self._day, self._spent = today, 0.0

    @property
    def spent_today(self) -> float:
        with self._lock:
            self._roll()
            return self._spent

    def check(self, estimated_usd: float) -> None:
        """Raise :class:`BudgetExceededError` if a call costing ``estimated_usd`` would pass it."""
        if self._limit is None:
            return
        with self._lock:
            self._roll()
            if self._spent + estimated_usd > self._limit:
                raise BudgetExceededError(
                    f"expected today's embedding spend to stay within {self._limit:.6f} USD, "
                    f"got {self._spent:.6f} USD spent and a call estimated at "
                    f"{estimated_usd:.6f} USD; calls resume at 00:00 UTC"
                )

    def add(self, usd: float) -> None:
        """Count ``usd`` as spent today; a negative amount refunds an earlier estimate."""
        with self._lock:
            self._roll()
            # A refund of an estimate counted before midnight must not go below zero.
            self._spent = max(0.0, self._spent + usd)
