"""The sync engine: keeps one process's local index in step with the shared store.

It maps global entry ids (Redis ``INCR``) to local ids, writes through the store (or queues the
write while Redis is unreachable), applies feed events and snapshots, and counts what it did.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from binary_semantic_cache.redis_sync.client import UNREACHABLE, redact_url
from binary_semantic_cache.redis_sync.codec import Clear, Delete, Entry, Event
from binary_semantic_cache.redis_sync.feed import Follower
from binary_semantic_cache.redis_sync.keys import Keys
from binary_semantic_cache.redis_sync.options import SyncOptions
from binary_semantic_cache.redis_sync.outbox import (
    Op,
    Outbox,
    QueuedClear,
    QueuedDelete,
    QueuedPut,
)
from binary_semantic_cache.redis_sync.store import PutReply, PutRow, Store

logger = logging.getLogger("binary_semantic_cache.redis_sync")


class LocalIndex(Protocol):
    """The process's own index (the core cache, reached without the sync)."""

    def put(
        self, vector: npt.ArrayLike, response: Any, partition: str, ttl_seconds: float | None
    ) -> int: ...
    def delete(self, lid: int) -> bool: ...
    def clear(self, partition: str | None) -> int: ...
    def clear_prefix(self, prefix: str) -> int: ...
    def ids(self) -> list[int]: ...
    def alive(self) -> bool: ...


@dataclass(frozen=True)
class Row:
    """One put as the cache received it, with its encoded form for Redis."""

    embedding: npt.NDArray[np.float32]
    response: Any
    partition: str
    ttl_seconds: float | None
    vector: bytes
    kind: bytes
    payload: bytes


@dataclass(frozen=True)
class _Bound:
    lid: int
    partition: str
    # time.monotonic() after which the local index has expired the entry
    deadline: float | None
    # The entry as Redis holds it, kept to write it back after a store reset: the core keeps
    # only the code, not the embedding.
    vector: bytes
    kind: bytes
    payload: bytes


@dataclass(frozen=True)
class _Pending:
    lid: int
    partition: str


def _deadline(ttl_seconds: float | None) -> float | None:
    return None if ttl_seconds is None else time.monotonic() + ttl_seconds


def _bound_entry(lid: int, entry: Entry, remaining: float | None) -> _Bound:
    return _Bound(
        lid,
        entry.partition,
        _deadline(remaining),
        entry.vector.tobytes(),
        entry.kind,
        entry.payload,
    )


class SyncEngine:
    """Shares one local index through Redis; see ``binary_semantic_cache.redis_sync``."""

    def __init__(
        self,
        url: str,
        namespace: str,
        local: LocalIndex,
        max_entries: int,
        options: SyncOptions,
        cluster: bool = False,
    ) -> None:
        self.url = redact_url(url)
        self._local = local
        # Entries the local index held before its first sync (reopened from ``path``): they
        # answer lookups until then, and are replaced by the store's entries at that sync.
        self._unsynced = set(local.ids())
        self._max_entries = max_entries
        self._options = options
        self._store = Store(
            url,
            Keys.of(namespace),
            cluster=cluster,
            connect_timeout=options.connect_timeout,
            write_timeout=options.write_timeout,
            block_ms=options.block_ms,
            feed_maxlen=options.feed_maxlen,
        )
        self._instance = secrets.token_hex(8)
        # One lock for the maps, the local index writes and the Redis writes: a write's event
        # can then never be applied before the writer has recorded its id.
        self._lock = threading.RLock()
        self._bound: dict[int, _Bound] = {}
        self._gid_of: dict[int, int] = {}
        # Own entries not yet confirmed by Redis, by the token in their origin.
        self._pending: dict[int, _Pending] = {}
        self._next_token = 0
        self._outbox = Outbox(options.max_queued_writes)
        self.connected = False
        self._outage_logged = False
        self.epoch: str | None = None
        self.last_id: str | None = None
        self.need_resync = True
        self._offset_ms = 0.0
        self._counts = {"applied_events": 0, "resyncs": 0, "reconnects": 0, "errors": 0}
        self._follower = Follower(self, self._store, options)

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """First sync (bounded by the timeouts; never raises), then the feed thread."""
        try:
            self._store.ping()
            self.resync()
            self.connected = True
            logger.info("shared cache: synced with %s", self.url)
        except UNREACHABLE as err:
            self.lost(err)
        self._follower.start()

    def close(self) -> None:
        """Stops the feed thread, then makes one attempt to send the writes still queued.

        The attempt ends at the first failed write, so with Redis down it costs one connect or
        socket timeout at most, and after ``close_timeout`` with Redis slow; what is left
        unsent is logged once, never raised.
        """
        self._follower.stop()
        if self._outbox:
            why = f"close_timeout of {self._options.close_timeout} s passed"
            try:
                self.flush(deadline=time.monotonic() + self._options.close_timeout)
            except UNREACHABLE as err:
                why = f"{type(err).__name__}: {err}"
            if self._outbox:
                logger.warning(
                    "shared cache: closed with %d queued writes not sent to %s (%s); "
                    "they are dropped",
                    len(self._outbox),
                    self.url,
                    why,
                )
        self._store.close()

    # -- writes from the cache ----------------------------------------------------------------

    def put_many(self, rows: Sequence[Row]) -> list[int]:
        with self._lock:
            tokens = [self._token() for _ in rows]
            puts = [self._put_row(row, token) for row, token in zip(rows, tokens, strict=True)]
            replies: list[PutReply] | None = None
            if self._writable():
                try:
                    replies = self._store.put_many(puts, self._max_entries)
                except UNREACHABLE as err:
                    self.lost(err)
            if replies is None:
                return [
                    self._insert_queued(r, t, p) for r, t, p in zip(rows, tokens, puts, strict=True)
                ]
            return [
                self._insert_published(r, t, rep)
                for r, t, rep in zip(rows, tokens, replies, strict=True)
            ]

    def delete(self, lid: int) -> bool:
        with self._lock:
            removed = self._local.delete(lid)
            gid = self._gid_of.pop(lid, None)
            if gid is not None:
                del self._bound[gid]
                if self.epoch is not None:
                    self._send(QueuedDelete(gid, self.epoch))
            else:
                self._drop_pending(lambda p: p.lid == lid)
            return removed

    def clear(self, partition: str | None, prefix: bool = False) -> int:
        """Clears every partition, one, or (``prefix``) those whose name starts with it."""
        selector = Clear(0, partition, prefix)
        with self._lock:
            if partition is not None and prefix:
                removed = self._local.clear_prefix(partition)
            else:
                removed = self._local.clear(partition)
            for gid, bound in list(self._bound.items()):
                if selector.matches(bound.partition):
                    del self._bound[gid]
                    del self._gid_of[bound.lid]
            self._drop_pending(lambda p: selector.matches(p.partition))
            self._send(QueuedClear(partition, prefix, self.epoch or ""))
            return removed

    def _token(self) -> int:
        self._next_token += 1
        return self._next_token

    def _put_row(self, row: Row, token: int) -> PutRow:
        ttl_ms = 0 if row.ttl_seconds is None else max(1, round(row.ttl_seconds * 1000))
        return PutRow(
            row.partition, row.vector, row.kind, row.payload, ttl_ms, f"{self._instance}:{token}"
        )

    def _writable(self) -> bool:
        # Behind queued writes a new one must wait its turn, or a delete could overtake its put.
        return self.connected and not self._outbox

    def _local_put(self, row: Row) -> int:
        return self._local.put(row.embedding, row.response, row.partition, row.ttl_seconds)

    def _insert_published(self, row: Row, token: int, reply: PutReply) -> int:
        if reply.epoch != self.epoch:
            # The store was lost since the last sync; the resync binds this entry by its origin.
            self.need_resync = True
            lid = self._local_put(row)
            self._pending[token] = _Pending(lid, row.partition)
            return lid
        # Evictions first, so the local index never holds more than the store allows.
        for gid in reply.evicted:
            self._forget(gid)
        lid = self._local_put(row)
        bound = _Bound(
            lid, row.partition, _deadline(row.ttl_seconds), row.vector, row.kind, row.payload
        )
        self._bind(reply.gid, bound)
        return lid

    def _insert_queued(self, row: Row, token: int, put: PutRow) -> int:
        lid = self._local_put(row)
        if self._outbox.push(QueuedPut(token, put)):
            self._pending[token] = _Pending(lid, row.partition)
        return lid

    def _send(self, op: Op) -> None:
        if self._writable():
            try:
                self._write(op)
                return
            except UNREACHABLE as err:
                self.lost(err)
        self._outbox.push(op)

    def _write(self, op: Op) -> None:
        if isinstance(op, QueuedPut):
            ttl_ms = op.remaining_ttl_ms()
            if ttl_ms is None:
                self._pending.pop(op.token, None)
                return
            row = dataclasses.replace(op.row, ttl_ms=ttl_ms)
            reply = self._store.put(row, self._max_entries)
            pending = self._pending.get(op.token)
            if reply.epoch != self.epoch:
                self.need_resync = True
            elif pending is not None:
                del self._pending[op.token]
                for gid in reply.evicted:
                    self._forget(gid)
                ttl = ttl_ms / 1000 if ttl_ms else None
                self._bind(
                    reply.gid,
                    _Bound(
                        pending.lid,
                        pending.partition,
                        _deadline(ttl),
                        row.vector,
                        row.kind,
                        row.payload,
                    ),
                )
        elif isinstance(op, QueuedDelete):
            self._store.delete(op.gid, op.epoch)
        else:
            self._store.clear(op.partition, op.prefix, op.epoch)

    def flush(self, deadline: float | None = None) -> None:
        """Replays the queued writes in order; raises (keeping the rest) if Redis fails again.

        With a ``deadline`` (``time.monotonic()``), stops when it passes, keeping the rest.
        """
        with self._lock:
            while self._outbox:
                if deadline is not None and time.monotonic() >= deadline:
                    return
                self._write(self._outbox.peek())
                self._outbox.pop()
            if not self.connected:
                self.connected = True
                self._counts["reconnects"] += 1
            if self._outage_logged:
                self._outage_logged = False
                logger.info("shared cache: reconnected to %s", self.url)

    def lost(self, err: Exception) -> None:
        """Marks Redis unreachable; logged once per outage."""
        if not self._outage_logged:
            logger.warning(
                "shared cache: Redis at %s unreachable (%s); lookups are served locally and "
                "writes queued",
                self.url,
                type(err).__name__,
            )
            self._outage_logged = True
        self.connected = False

    # -- the feed and snapshots -----------------------------------------------------------------

    def apply(self, events: Sequence[tuple[str, Event]]) -> None:
        """Applies events read after ``last_id``, in order."""
        with self._lock:
            for feed_id, event in events:
                try:
                    self._apply(event)
                except (ValueError, TypeError) as err:
                    # An entry this index cannot hold (another encoder's dimension, say) must
                    # not stall the feed.
                    self._counts["errors"] += 1
                    logger.warning("shared cache: skipped feed event %s: %s", feed_id, err)
                self.last_id = feed_id
                self._counts["applied_events"] += 1

    def _apply(self, event: Event) -> None:
        if isinstance(event, Entry):
            self._apply_put(event)
        elif isinstance(event, Delete):
            self._forget(event.gid)
        elif isinstance(event, Clear):
            for gid, bound in list(self._bound.items()):
                if gid <= event.up_to and event.matches(bound.partition):
                    self._forget(gid)

    def _apply_put(self, entry: Entry) -> None:
        if entry.gid in self._bound:
            return
        instance, _, token = entry.origin.partition(":")
        remaining = self._remaining_s(entry.expires_ms)
        if instance == self._instance:
            pending = self._pending.pop(int(token), None)
            if pending is not None:
                self._bind(entry.gid, _bound_entry(pending.lid, entry, remaining))
            # Otherwise it was bound when written and forgotten since (evicted by a later put of
            # the same batch, say): adding it back would make the local index evict a live one.
            return
        if remaining is not None and remaining <= 0:
            return
        lid = self._local.put(entry.vector, entry.response(), entry.partition, remaining)
        self._bind(entry.gid, _bound_entry(lid, entry, remaining))

    def resync(self) -> None:
        """Full catch-up: snapshot the store, then let the feed replay from where it began.

        A store with another epoch than the one synced before was reset (a Redis restart
        without persistence, a flush, a failover to an empty replica): that is no order to
        delete anything, so this index's entries are first written back into it.
        """
        point = self._store.begin_sync()
        if self.epoch is not None and point.epoch != self.epoch:
            self._reseed()
            point = self._store.begin_sync()
        entries = list(self._store.snapshot())
        with self._lock:
            self._offset_ms = point.redis_ms - time.time() * 1000
            if self.epoch is None:
                self.epoch = point.epoch
            elif point.epoch != self.epoch:
                # Reset again while re-seeding: the next resync re-seeds that store.
                self.need_resync = True
                return
            live = {entry.gid for entry in entries}
            # Ids above point.seq were issued after the snapshot began; the feed has them.
            for gid in [g for g in self._bound if g <= point.seq and g not in live]:
                self._forget(gid)
            for lid in self._unsynced:
                self._local.delete(lid)
            self._unsynced.clear()
            for entry in entries:
                try:
                    self._apply_put(entry)
                except (ValueError, TypeError):
                    self._counts["errors"] += 1
            if self.last_id is not None:
                self._counts["resyncs"] += 1
            self.last_id = point.last_id
            self.need_resync = False

    def _reseed(self) -> None:
        """Writes this index's entries back into a reset store and binds them to their new ids.

        Every process holding an entry offers it under its id in the lost store; Redis keeps
        the first offer (a claim) and tells the others the id it got, so each is stored once.
        """
        with self._lock:
            lost = self.epoch
            if lost is None:
                return
            now = time.monotonic()
            offers: list[tuple[int, PutRow]] = []
            for gid, bound in self._bound.items():
                ttl_ms = 0 if bound.deadline is None else round((bound.deadline - now) * 1000)
                if bound.deadline is None or ttl_ms > 0:
                    row = PutRow(
                        bound.partition,
                        bound.vector,
                        bound.kind,
                        bound.payload,
                        ttl_ms,
                        f"{self._instance}:0",
                    )
                    offers.append((gid, row))
            logger.warning(
                "shared cache: the store at %s was reset; writing back the %d entries held here",
                self.url,
                len(offers),
            )
            replies = self._store.reseed(lost, offers, self._max_entries)
            old, self._bound, self._gid_of = self._bound, {}, {}
            for (old_gid, _), reply in zip(offers, replies, strict=True):
                # Evictions first, as for a put: they may name entries rebound just before.
                for gid in reply.evicted:
                    self._forget(gid)
                bound = old.pop(old_gid)
                if reply.gid == 0:
                    # deleted by another process since the reset
                    self._local.delete(bound.lid)
                else:
                    self._bind(reply.gid, bound)
            # Entries whose TTL ran out before they could be offered.
            for bound in old.values():
                self._local.delete(bound.lid)
            self.epoch = replies[0].epoch if replies else self._store.begin_sync().epoch

    def prune(self) -> None:
        """Forgets ids of entries the local index has expired by itself."""
        now = time.monotonic()
        with self._lock:
            for gid, bound in list(self._bound.items()):
                if bound.deadline is not None and bound.deadline < now:
                    del self._bound[gid]
                    self._gid_of.pop(bound.lid, None)

    def alive(self) -> bool:
        """False once the cache was garbage-collected without ``close()``."""
        return self._local.alive()

    def count_error(self) -> None:
        self._counts["errors"] += 1

    # -- bookkeeping ------------------------------------------------------------------------------

    def _remaining_s(self, expires_ms: int) -> float | None:
        if expires_ms == 0:
            return None
        return (expires_ms - (time.time() * 1000 + self._offset_ms)) / 1000

    def _bind(self, gid: int, bound: _Bound) -> None:
        self._bound[gid] = bound
        self._gid_of[bound.lid] = gid

    def _forget(self, gid: int) -> None:
        bound = self._bound.pop(gid, None)
        if bound is not None:
            self._gid_of.pop(bound.lid, None)
            self._local.delete(bound.lid)

    def _drop_pending(self, match: Callable[[_Pending], bool]) -> None:
        tokens = {t for t, p in self._pending.items() if match(p)}
        for token in tokens:
            del self._pending[token]
        if tokens:
            self._outbox.discard_puts(tokens.__contains__)

    def stats(self) -> dict[str, int]:
        return {
            "redis_connected": int(self.connected),
            "redis_queued_writes": len(self._outbox),
            "redis_dropped_writes": self._outbox.dropped,
            "redis_applied_events": self._counts["applied_events"],
            "redis_resyncs": self._counts["resyncs"],
            "redis_reconnects": self._counts["reconnects"],
            "redis_errors": self._counts["errors"],
        }
