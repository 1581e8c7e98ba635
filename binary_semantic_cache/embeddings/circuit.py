"""A circuit breaker: stop calling a service that keeps failing, try again after a pause."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

from binary_semantic_cache.embeddings.errors import CircuitOpenError

__all__ = ["CircuitBreaker", "CircuitState"]

CircuitState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """Opens after ``failure_threshold`` consecutive failed calls; half-opens after a cool-down.

    While open, :meth:`before_call` raises :class:`CircuitOpenError` without touching the
    service. Once ``cooldown_seconds`` have passed one trial call is let through (half-open):
    success closes the breaker, failure opens it for another cool-down.

    Example:
        .. code-block:: python

            breaker = CircuitBreaker(failure_threshold=3, cooldown_seconds=30)
            breaker.before_call()
            try:
                result = call_service()
            except Exception:
                breaker.record_failure()
                raise
            breaker.record_success()
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        cooldown_seconds: float = 30.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be at least 1, got {failure_threshold}")
        if cooldown_seconds < 0:
            raise ValueError(f"cooldown_seconds must be >= 0, got {cooldown_seconds}")
        self._threshold = failure_threshold
        self._cooldown = cooldown_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False
        self._lock = threading.Lock()

    @property
    def state(self) -> CircuitState:
        with self._lock:
            if self._opened_at is None:
                return "closed"
            if self._trial_running or self._clock() - self._opened_at >= self._cooldown:
                return "half_open"
            return "open"

    def before_call(self) -> bool:
        """Raise :class:`CircuitOpenError` unless a call may go to the service now.

        Returns whether the call is the half-open trial.
        """
        with self._lock:
            if self._opened_at is None:
                return False
            waited = self._clock() - self._opened_at
            if waited >= self._cooldown and not self._trial_running:
                self._trial_running = True
                return True
            retry_in = max(0.0, self._cooldown - waited)
            raise CircuitOpenError(
                f"expected a healthy service, got {self._failures} consecutive failures; "
                f"calls are refused for {retry_in:.1f} s more",
                retry_in=retry_in,
            )

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._trial_running = False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._trial_running or self._failures >= self._threshold:
                self._opened_at = self._clock()
            self._trial_running = False

    def cancel_trial(self) -> None:
        """The trial ended without an outcome (e.g. it was cancelled): the next call tries."""
        with self._lock:
            self._trial_running = False
