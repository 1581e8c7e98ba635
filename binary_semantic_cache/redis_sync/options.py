"""The tuning knobs of the Redis sync."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SyncOptions:
    """Tuning of the Redis sync; the defaults suit most deployments.

    Example:
        >>> SyncOptions(max_queued_writes=1_000, feed_maxlen=50_000)
    """

    # Writes held while Redis is unreachable; beyond it they stay local and are counted.
    max_queued_writes: int = 10_000
    # Events kept in the feed (approximately); an instance further behind does a full resync.
    feed_maxlen: int = 10_000
    connect_timeout: float = 0.5
    # Socket timeout of writes and snapshot reads.
    write_timeout: float = 1.0
    # How long one feed read waits for news; also bounds how long close() takes.
    block_ms: int = 500
    # How long close() may spend sending writes still queued (Redis slow but up); the rest are
    # dropped and logged.
    close_timeout: float = 5.0
    # Waits between reconnect attempts double from the first to the last.
    reconnect_min: float = 0.05
    reconnect_max: float = 1.0
