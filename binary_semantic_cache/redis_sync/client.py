"""The redis-py clients of the store: one server (``redis.Redis``) or a Cluster (``RedisCluster``).

A Cluster is reached with the same ``redis://`` / ``rediss://`` URL (any one node), as with
``RedisCluster.from_url``; the caller says which kind it is.
"""

from __future__ import annotations

from typing import Any, TypeAlias
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.connection import parse_url
from redis.exceptions import RedisClusterException
from redis.retry import Retry

Client: TypeAlias = redis.Redis | RedisCluster

# What a store that cannot be reached raises. A Cluster client raises RedisClusterException,
# which is not a RedisError, when no node answers its topology query.
UNREACHABLE: tuple[type[Exception], ...] = (redis.RedisError, RedisClusterException)


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


def check_cluster_url(url: str) -> None:
    """Refuses, before any connection, a URL that no Redis Cluster can serve."""
    options: dict[str, Any] = parse_url(url)  # type: ignore[no-untyped-call]
    if "path" in options:
        raise ValueError(
            f"a Redis Cluster is reached over TCP (redis:// or rediss://), got {redact_url(url)}"
        )
    if options.get("db", 0) != 0:
        raise ValueError(f"a Redis Cluster has only database 0, got {redact_url(url)}")


def connect(url: str, cluster: bool, *, socket_timeout: float, connect_timeout: float) -> Client:
    """A client for ``url``; a Cluster client connects here, to learn the slots' owners."""
    # No client-side retries: a write that fails is queued by the engine instead, and a retry
    # would multiply the time a caller waits on a dead server. In a Cluster this also makes a
    # MOVED reply (the namespace's slot was migrated) one failed call: the client has learnt
    # the new owner by then, and the engine's reconnect resends the write.
    kind: type[Client] = RedisCluster if cluster else redis.Redis
    return kind.from_url(
        url,
        retry=Retry(NoBackoff(), 0),
        socket_timeout=socket_timeout,
        socket_connect_timeout=connect_timeout,
    )
