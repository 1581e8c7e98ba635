"""A small bounded, thread-safe LRU map: the request engine's exact tier, the byte store."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

__all__ = ["BoundedLRU"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedLRU(Generic[K, V]):
    """At most ``max_entries`` items; the least recently used one goes first.

    One lock around an ``OrderedDict``: every operation is a few dictionary steps, so a finer
    scheme would cost more than it saves.
    """

    def __init__(self, max_entries: int) -> None:
        self._max_entries = max_entries
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: K, is_live: Callable[[V], bool] | None = None) -> V | None:
        """Return the value and mark it used; drop it instead when ``is_live`` says it is dead."""
        with self._lock:
            value = self._items.get(key)
            if value is None:
                return None
            if is_live is not None and not is_live(value):
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> tuple[V | None, list[tuple[K, V]]]:
        """Store ``value``; return (the value it replaced, the items evicted to make room)."""
        evicted: list[tuple[K, V]] = []
        with self._lock:
            replaced = self._items.pop(key, None)
            self._items[key] = value
            while len(self._items) > self._max_entries:
                evicted.append(self._items.popitem(last=False))
        return replaced, evicted

    def items(self) -> list[tuple[K, V]]:
        """A copy of every item, least recently used first."""
        with self._lock:
            return list(self._items.items())

    def remove(self, keys: Iterable[K]) -> None:
        """Remove the items under ``keys``; a missing key is no error."""
        with self._lock:
            for key in keys:
                self._items.pop(key, None)

    def remove_where(self, predicate: Callable[[K, V], bool]) -> list[tuple[K, V]]:
        """Remove and return every item for which ``predicate(key, value)`` holds."""
        with self._lock:
            doomed = [(k, v) for k, v in self._items.items() if predicate(k, v)]
            for key, _ in doomed:
                del self._items[key]
        return doomed

    def clear(self) -> None:
        """Remove every item."""
        with self._lock:
            self._items.clear()
