"""The shared store: the write scripts, snapshots and the feed, over two redis-py clients.

One client serves writes with a short socket timeout; the other blocks on the feed, so a blocked
read never delays a write.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from binary_semantic_cache.redis_sync import scripts
from binary_semantic_cache.redis_sync.codec import (
    CLEAR_ALL,
    CLEAR_PARTITION,
    CLEAR_PREFIX,
    Entry,
)
from binary_semantic_cache.redis_sync.keys import Keys

# Entries fetched per round trip during a snapshot.
_SNAPSHOT_PAGE = 500


def redact_url(url: str) -> str:
    """The URL with its password (and any query string, which may hold one) replaced.

    Example:
        >>> redact_url("rediss://user:secret@cache.internal:6380/0")
        'rediss://user:***@cache.internal:6380/0'
    """
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        name = user.partition(":")[0]
        netloc = f"{name}:***@{host}" if name else f":***@{host}"
    query = "***" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


@dataclass(frozen=True)
class PutRow:
    """One entry to write; ``origin`` lets the writer recognise it in the feed."""

    partition: str
    vector: bytes
    kind: bytes
    payload: bytes
    ttl_ms: int
    origin: str


@dataclass(frozen=True)
class PutReply:
    epoch: str
    gid: int
    evicted: list[int]


@dataclass(frozen=True)
class SyncPoint:
    """Where a snapshot starts: replaying the feed after ``last_id`` completes it."""

    epoch: str
    last_id: str
    seq: int
    redis_ms: int


@dataclass(frozen=True)
class FeedItem:
    id: str
    prev: str
    fields: dict[bytes, bytes]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _put_reply(raw: Any) -> PutReply:
    epoch, gid, evicted = raw
    return PutReply(_text(epoch), int(gid), [int(g) for g in evicted])


def _feed_item(entry_id: Any, fields: dict[bytes, bytes]) -> FeedItem:
    return FeedItem(_text(entry_id), fields[b"prev"].decode(), fields)


class Store:
    """The keys of one namespace on one Redis server (or Valkey, or a Cluster slot)."""

    def __init__(
        self,
        url: str,
        keys: Keys,
        *,
        connect_timeout: float,
        write_timeout: float,
        block_ms: int,
        feed_maxlen: int,
    ) -> None:
        self.keys = keys
        self.block_ms = block_ms
        self._feed_maxlen = str(feed_maxlen)
        # No client-side retries: a write that fails is queued by the engine instead, and a
        # retry would multiply the time a caller waits on a dead server.
        common: dict[str, Any] = {
            "socket_connect_timeout": connect_timeout,
            "retry": Retry(NoBackoff(), 0),
        }
        self.writer = redis.Redis.from_url(url, socket_timeout=write_timeout, **common)
        self.reader = redis.Redis.from_url(
            url, socket_timeout=block_ms / 1000 + write_timeout, **common
        )
        self._put = self.writer.register_script(scripts.PUT)
        self._delete = self.writer.register_script(scripts.DELETE)
        self._clear = self.writer.register_script(scripts.CLEAR)
        self._begin = self.reader.register_script(scripts.BEGIN_SYNC)

    def _args(self, *rest: str | bytes | int) -> list[str | bytes | int]:
        return [self.keys.prefix, self._feed_maxlen, *rest]

    def _put_args(self, row: PutRow, max_entries: int) -> list[str | bytes | int]:
        return self._args(
            row.partition, row.vector, row.kind, row.payload, row.ttl_ms, row.origin, max_entries
        )

    def put(self, row: PutRow, max_entries: int) -> PutReply:
        raw = self._put(keys=self.keys.script_keys(), args=self._put_args(row, max_entries))
        return _put_reply(raw)

    def put_many(self, rows: Sequence[PutRow], max_entries: int) -> list[PutReply]:
        """One round trip; each row is still its own atomic script."""
        pipe = self.writer.pipeline(transaction=False)
        for row in rows:
            self._put(
                keys=self.keys.script_keys(), args=self._put_args(row, max_entries), client=pipe
            )
        return [_put_reply(raw) for raw in pipe.execute()]

    def delete(self, gid: int, epoch: str) -> bool:
        _, removed = self._delete(keys=self.keys.script_keys(), args=self._args(gid, epoch))
        return bool(removed)

    def clear(self, partition: str | None, prefix: bool) -> int:
        if partition is None:
            args = self._args(CLEAR_ALL, "")
        else:
            args = self._args(CLEAR_PREFIX if prefix else CLEAR_PARTITION, partition)
        _, removed = self._clear(keys=self.keys.script_keys(), args=args)
        return int(removed)

    def begin_sync(self) -> SyncPoint:
        epoch, last_id, seq, redis_ms = self._begin(
            keys=self.keys.script_keys(), args=self._args(), client=self.reader
        )
        return SyncPoint(_text(epoch), _text(last_id), int(seq), int(redis_ms))

    def snapshot(self) -> Iterator[Entry]:
        """Every live entry, paged by id so that concurrent writes never make a page skip one."""
        after = 0
        while True:
            page = cast(
                "list[bytes]",
                self.reader.zrangebyscore(
                    self.keys.index, f"({after}", "+inf", start=0, num=_SNAPSHOT_PAGE
                ),
            )
            gids = [int(g) for g in page]
            if not gids:
                return
            pipe = self.reader.pipeline(transaction=False)
            for gid in gids:
                pipe.hgetall(self.keys.entry(gid))
            for gid, fields in zip(gids, pipe.execute(), strict=True):
                # An empty hash expired or was removed since the index was read.
                if fields:
                    yield Entry.from_fields(gid, fields)
            after = gids[-1]

    def read_feed(self, after: str, count: int) -> list[FeedItem]:
        """Events after ``after``, waiting up to ``block_ms`` for the first."""
        reply = cast(
            "list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]]",
            self.reader.xread({self.keys.feed: after}, count=count, block=self.block_ms),
        )
        if not reply:
            return []
        _, items = reply[0]
        return [_feed_item(entry_id, fields) for entry_id, fields in items]

    def last_id(self) -> str:
        raw = self.reader.get(self.keys.last)
        return "0-0" if raw is None else _text(raw)

    def first_after(self, after: str) -> FeedItem | None:
        items = cast(
            "list[tuple[bytes, dict[bytes, bytes]]]",
            self.reader.xrange(self.keys.feed, min=f"({after}", max="+", count=1),
        )
        return _feed_item(*items[0]) if items else None

    def ping(self) -> None:
        self.writer.ping()
        self.reader.ping()

    def close(self) -> None:
        self.writer.close()
        self.reader.close()
