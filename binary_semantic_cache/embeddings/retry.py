"""When to retry a failed request, and how long to wait first."""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass

from binary_semantic_cache.embeddings.errors import EmbeddingError, RateLimitError

__all__ = ["RetryPolicy", "parse_retry_after"]


@dataclass(frozen=True)
class RetryPolicy:
    """Retries rate limits, 5xx, connection errors and timeouts; nothing else.

    A server's ``Retry-After`` is waited exactly; without one the wait doubles from
    ``initial_backoff`` up to ``max_backoff``, with jitter so clients do not retry in step.
    A ``Retry-After`` longer than ``max_retry_after`` is not waited out: the error is raised.

    Example:
        .. code-block:: python

            policy = RetryPolicy(max_retries=5, initial_backoff=1.0)
            embedder = OpenAIEmbedder(retry=policy)
    """

    max_retries: int = 3
    initial_backoff: float = 0.5
    max_backoff: float = 20.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.initial_backoff < 0 or self.max_backoff < 0:
            raise ValueError("backoff times must be >= 0")

    def delay(self, retries_done: int, error: EmbeddingError) -> float | None:
        """Seconds to wait before the next attempt, or None to give up and raise ``error``."""
        if not error.retryable or retries_done >= self.max_retries:
            return None
        if isinstance(error, RateLimitError) and error.retry_after is not None:
            if error.retry_after > self.max_retry_after:
                return None
            return max(0.0, error.retry_after)
        backoff = min(self.max_backoff, self.initial_backoff * 2.0**retries_done)
        return backoff * random.uniform(0.5, 1.0)


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds asked for by ``Retry-After-Ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    if headers is None:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            when = email.utils.parsedate_tz(value)
            if when is None:
                return None
            return max(0.0, email.utils.mktime_tz(when) - time.time())
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    return None
