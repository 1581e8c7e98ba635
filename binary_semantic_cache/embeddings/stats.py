"""Counters of what a remote embedder did: requests, tokens, cost, retries, errors."""

from __future__ import annotations

import threading
from collections import Counter
from typing import TypedDict

__all__ = ["EmbedderStats", "RemoteStats", "StatsSnapshot"]


class StatsSnapshot(TypedDict):
    """A copy of the counters at one moment (see :meth:`EmbedderStats.snapshot`)."""

    requests: int
    texts: int
    tokens: int
    estimated_tokens: int
    cost_usd: float
    retries: int
    errors: dict[str, int]


class RemoteStats(StatsSnapshot):
    """What ``get_stats()`` of a remote embedder returns: the counters and its guards' state."""

    circuit: str
    spent_today_usd: float


class EmbedderStats:
    """Thread-safe counters.

    ``requests`` counts HTTP requests sent (retries included), ``texts`` the texts embedded,
    ``tokens`` the tokens billed (the server's ``usage`` where it reports one, else the
    estimate, which ``estimated_tokens`` also counts), ``errors`` every failed attempt or
    refused call by kind (see ``EmbeddingError.kind``).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests = 0
        self._texts = 0
        self._tokens = 0
        self._estimated_tokens = 0
        self._cost_usd = 0.0
        self._retries = 0
        self._errors: Counter[str] = Counter()

    def request(self) -> None:
        with self._lock:
            self._requests += 1

    def retry(self) -> None:
        with self._lock:
            self._retries += 1

    def error(self, kind: str) -> None:
        with self._lock:
            self._errors[kind] += 1

    def success(self, *, texts: int, tokens: int, estimated: bool, cost_usd: float) -> None:
        with self._lock:
            self._texts += texts
            self._tokens += tokens
            if estimated:
                self._estimated_tokens += tokens
            self._cost_usd += cost_usd

    def snapshot(self) -> StatsSnapshot:
        with self._lock:
            return StatsSnapshot(
                requests=self._requests,
                texts=self._texts,
                tokens=self._tokens,
                estimated_tokens=self._estimated_tokens,
                cost_usd=self._cost_usd,
                retries=self._retries,
                errors=dict(self._errors),
            )
