"""The background thread: reconnects, replays queued writes, tails the feed, resyncs on gaps.

Every feed event names the event before it (``prev``). An event whose ``prev`` is not the last
one applied here means events were trimmed away (or the store was lost): the instance then takes
a full snapshot instead of replaying.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Protocol

from binary_semantic_cache.redis_sync.client import UNREACHABLE
from binary_semantic_cache.redis_sync.codec import Event, parse_event
from binary_semantic_cache.redis_sync.options import SyncOptions
from binary_semantic_cache.redis_sync.store import Store

logger = logging.getLogger("binary_semantic_cache.redis_sync")

# Events applied per read, so one lock hold stays short.
_READ_COUNT = 256
# Seconds between sweeps of locally expired ids.
_PRUNE_EVERY = 5.0


class Followed(Protocol):
    """What the follower drives: the sync engine (which owns the follower, not the reverse)."""

    connected: bool
    need_resync: bool
    last_id: str | None

    def alive(self) -> bool: ...
    def lost(self, err: Exception) -> None: ...
    def count_error(self) -> None: ...
    def flush(self) -> None: ...
    def resync(self) -> None: ...
    def prune(self) -> None: ...
    def apply(self, events: Sequence[tuple[str, Event]]) -> None: ...


class Follower:
    """Runs the engine's side of the feed in one daemon thread."""

    def __init__(self, engine: Followed, store: Store, options: SyncOptions) -> None:
        self._engine = engine
        self._store = store
        self._options = options
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bsc-redis-sync", daemon=True)
        self._next_prune = time.monotonic() + _PRUNE_EVERY

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(
                timeout=self._options.block_ms / 1000 + 2 * self._options.write_timeout
            )

    def _run(self) -> None:
        backoff = self._options.reconnect_min
        while not self._stop.is_set() and self._engine.alive():
            try:
                self._step()
                backoff = self._options.reconnect_min
            except UNREACHABLE as err:
                self._engine.lost(err)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self._options.reconnect_max)
            except ReferenceError:
                # The cache was garbage-collected without close().
                return
            except Exception:
                # The thread must survive anything; a dead follower would silently stop syncing.
                logger.exception("shared cache: feed thread error")
                self._engine.count_error()
                self._stop.wait(self._options.reconnect_max)

    def _step(self) -> None:
        engine = self._engine
        if not engine.connected:
            self._store.ping()
            engine.flush()
        if engine.need_resync or engine.last_id is None:
            engine.resync()
        self._tail(engine.last_id or "0-0")
        if time.monotonic() >= self._next_prune:
            engine.prune()
            self._next_prune = time.monotonic() + _PRUNE_EVERY

    def _tail(self, after: str) -> None:
        items = self._store.read_feed(after, _READ_COUNT)
        if not items:
            self._check_idle(after)
            return
        events: list[tuple[str, Event]] = []
        prev = after
        for item in items:
            if item.prev != prev:
                break
            events.append((item.id, parse_event(item.fields)))
            prev = item.id
        self._engine.apply(events)
        if len(events) < len(items):
            self._gap(after)

    def _check_idle(self, after: str) -> None:
        """Nothing new after ``after``: make sure that is not because the feed was trimmed."""
        if self._store.last_id() == after:
            return
        # Something was written since the read; fine if it is the next event of the chain.
        nxt = self._store.first_after(after)
        if nxt is None or nxt.prev != after:
            self._gap(after)

    def _gap(self, after: str) -> None:
        logger.info("shared cache: feed events after %s are gone; resyncing", after)
        self._engine.need_resync = True
