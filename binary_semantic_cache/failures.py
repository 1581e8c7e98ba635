"""Log a cache failure once per kind, for adapters that turn every cache failure into a miss."""

from __future__ import annotations

import logging
import threading

__all__ = ["FailureLog"]


class FailureLog:
    """Logs the first failure of each (operation, exception type) as a warning, later ones at DEBUG.

    A cache that is down fails on every request; one warning with its traceback says so, and a
    warning per request would bury the application's own logs.

    Example:
        .. code-block:: python

            failures = FailureLog(logging.getLogger(__name__))
            try:
                vector = embedder.embed([text])[0]
            except Exception as exc:
                failures.record("lookup", exc, treated_as="miss")
    """

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._seen: set[tuple[str, type[BaseException]]] = set()
        self._lock = threading.Lock()

    def record(self, operation: str, exc: BaseException, *, treated_as: str) -> None:
        """Log that ``operation`` failed with ``exc`` and was handled as ``treated_as``."""
        signature = (operation, type(exc))
        with self._lock:
            first = signature not in self._seen
            self._seen.add(signature)
        name = type(exc).__name__
        if first:
            self._logger.warning(
                "cache %s failed with %s; treated as a %s (later %s errors are logged at "
                "DEBUG level)",
                operation,
                name,
                treated_as,
                name,
                exc_info=exc,
            )
        else:
            self._logger.debug("cache %s failed: %r", operation, exc)
