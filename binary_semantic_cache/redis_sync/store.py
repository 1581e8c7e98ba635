"""The shared store: the write scripts, snapshots and the feed, over two redis-py clients.

One client serves writes with a short socket timeout; the other blocks on the feed, so a blocked
read never delays a write. Both are made on first use: a Cluster client connects as it is made,
and that must happen where the engine handles an unreachable store, not in the constructor.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from redis.commands.core import Script

from binary_semantic_cache.redis_sync import scripts
from binary_semantic_cache.redis_sync.client import Client, check_cluster_url, connect
from binary_semantic_cache.redis_sync.codec import (
    CLEAR_ALL,
    CLEAR_PARTITION,
    CLEAR_PREFIX,
    Entry,
)
from binary_semantic_cache.redis_sync.keys import Keys

# Entries fetched per round trip during a snapshot.
_SNAPSHOT_PAGE = 500
# Rows per put script, so one batch never holds Redis for long.
_PUT_CHUNK = 500


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


def _put_replies(raw: Any) -> list[PutReply]:
    epoch, rows = raw
    return [PutReply(_text(epoch), int(gid), [int(g) for g in evicted]) for gid, evicted in rows]


def _put_fields(row: PutRow) -> list[str | bytes | int]:
    return [row.partition, row.vector, row.kind, row.payload, row.ttl_ms, row.origin]


def _feed_item(entry_id: Any, fields: dict[bytes, bytes]) -> FeedItem:
    return FeedItem(_text(entry_id), fields[b"prev"].decode(), fields)


@dataclass(frozen=True)
class _Clients:
    writer: Client
    reader: Client
    put: Script
    reseed: Script
    delete: Script
    clear: Script
    begin: Script


class Store:
    """The keys of one namespace on one Redis server (or Valkey, or a Cluster slot)."""

    def __init__(
        self,
        url: str,
        keys: Keys,
        *,
        cluster: bool,
        connect_timeout: float,
        write_timeout: float,
        block_ms: int,
        feed_maxlen: int,
    ) -> None:
        if cluster:
            check_cluster_url(url)
        self.keys = keys
        self.block_ms = block_ms
        self._feed_maxlen = str(feed_maxlen)
        self._url = url
        self._cluster = cluster
        self._connect_timeout = connect_timeout
        self._write_timeout = write_timeout
        self._lock = threading.Lock()
        self._made: _Clients | None = None

    def _clients(self) -> _Clients:
        with self._lock:
            if self._made is None:
                self._made = self._make()
            return self._made

    def _make(self) -> _Clients:
        def client(socket_timeout: float) -> Client:
            return connect(
                self._url,
                self._cluster,
                socket_timeout=socket_timeout,
                connect_timeout=self._connect_timeout,
            )

        writer = client(self._write_timeout)
        try:
            reader = client(self.block_ms / 1000 + self._write_timeout)
        except BaseException:
            writer.close()
            raise
        return _Clients(
            writer,
            reader,
            writer.register_script(scripts.PUT),
            writer.register_script(scripts.RESEED),
            writer.register_script(scripts.DELETE),
            writer.register_script(scripts.CLEAR),
            reader.register_script(scripts.BEGIN_SYNC),
        )

    def _reader(self) -> Client:
        return self._clients().reader

    def _args(self, *rest: str | bytes | int) -> list[str | bytes | int]:
        return [self.keys.prefix, self._feed_maxlen, *rest]

    def put(self, row: PutRow, max_entries: int) -> PutReply:
        return self.put_many([row], max_entries)[0]

    def put_many(self, rows: Sequence[PutRow], max_entries: int) -> list[PutReply]:
        """A script per chunk of rows, each row with its own events."""
        put = self._clients().put
        replies: list[PutReply] = []
        for start in range(0, len(rows), _PUT_CHUNK):
            fields: list[str | bytes | int] = []
            for row in rows[start : start + _PUT_CHUNK]:
                fields += _put_fields(row)
            raw = put(keys=self.keys.script_keys(), args=self._args(max_entries, *fields))
            replies += _put_replies(raw)
        return replies

    def reseed(
        self, lost_epoch: str, rows: Sequence[tuple[int, PutRow]], max_entries: int
    ) -> list[PutReply]:
        """Writes back entries of the lost store (each with its id there) that no one claimed.

        A reply's id is the entry's id now, whoever wrote it; 0 when it was deleted meanwhile.
        """
        reseed = self._clients().reseed
        replies: list[PutReply] = []
        for start in range(0, len(rows), _PUT_CHUNK):
            fields: list[str | bytes | int] = []
            for old_gid, row in rows[start : start + _PUT_CHUNK]:
                fields += [old_gid, *_put_fields(row)]
            args = self._args(max_entries, lost_epoch, *fields)
            replies += _put_replies(reseed(keys=self.keys.script_keys(), args=args))
        return replies

    def delete(self, gid: int, epoch: str) -> bool:
        delete = self._clients().delete
        _, removed = delete(keys=self.keys.script_keys(), args=self._args(gid, epoch))
        return bool(removed)

    def clear(self, partition: str | None, prefix: bool, epoch: str) -> int:
        """Clears the store; ``epoch`` names the store the caller saw, should it be lost since."""
        if partition is None:
            args = self._args(CLEAR_ALL, "", epoch)
        else:
            args = self._args(CLEAR_PREFIX if prefix else CLEAR_PARTITION, partition, epoch)
        _, removed = self._clients().clear(keys=self.keys.script_keys(), args=args)
        return int(removed)

    def begin_sync(self) -> SyncPoint:
        epoch, last_id, seq, redis_ms = self._clients().begin(
            keys=self.keys.script_keys(), args=self._args()
        )
        return SyncPoint(_text(epoch), _text(last_id), int(seq), int(redis_ms))

    def snapshot(self) -> Iterator[Entry]:
        """Every live entry, paged by id so that concurrent writes never make a page skip one."""
        after = 0
        while True:
            page = cast(
                "list[bytes]",
                self._reader().zrangebyscore(
                    self.keys.index, f"({after}", "+inf", start=0, num=_SNAPSHOT_PAGE
                ),
            )
            gids = [int(g) for g in page]
            if not gids:
                return
            pipe = self._reader().pipeline(transaction=False)
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
            self._reader().xread({self.keys.feed: after}, count=count, block=self.block_ms),
        )
        if not reply:
            return []
        _, items = reply[0]
        return [_feed_item(entry_id, fields) for entry_id, fields in items]

    def last_id(self) -> str:
        raw = self._reader().get(self.keys.last)
        return "0-0" if raw is None else _text(raw)

    def first_after(self, after: str) -> FeedItem | None:
        items = cast(
            "list[tuple[bytes, dict[bytes, bytes]]]",
            self._reader().xrange(self.keys.feed, min=f"({after}", max="+", count=1),
        )
        return _feed_item(*items[0]) if items else None

    def ping(self) -> None:
        """Reaches the node holding the namespace (in a Cluster, PING would ask every node)."""
        clients = self._clients()
        clients.writer.exists(self.keys.epoch)
        clients.reader.exists(self.keys.epoch)

    def close(self) -> None:
        if self._made is not None:
            self._made.writer.close()
            self._made.reader.close()
