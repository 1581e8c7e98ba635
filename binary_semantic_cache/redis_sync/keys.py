"""Redis key names of one namespace.

Every key carries the hash tag ``{bsc:<namespace>}``, so a namespace lives in one Redis Cluster
slot and each write script may touch all of its keys.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    """The keys of one namespace.

    Example:
        >>> Keys.of("default").feed
        '{bsc:default}:feed'
    """

    prefix: str
    seq: str
    last: str
    epoch: str
    index: str
    expiry: str
    feed: str

    @classmethod
    def of(cls, namespace: str) -> Keys:
        # A brace would end the hash tag early or start another, and a Redis Cluster could then
        # spread the namespace's keys over several slots, where no script may touch them all.
        if not namespace or any(c in namespace for c in "{}"):
            raise ValueError(f"namespace must be non-empty without braces, got {namespace!r}")
        prefix = f"{{bsc:{namespace}}}"
        return cls(
            prefix=prefix,
            # global entry ids (INCR)
            seq=f"{prefix}:seq",
            # id of the newest feed event, so a reader can tell a trimmed feed from an idle one
            last=f"{prefix}:last",
            # set when the store is first written; a new value means the store was lost
            epoch=f"{prefix}:epoch",
            # sorted set of live entry ids, scored by id (insertion order, for max_entries)
            index=f"{prefix}:index",
            # sorted set of entry ids with a TTL, scored by expiry (ms, Redis clock)
            expiry=f"{prefix}:expiry",
            # the change feed (a Redis Stream)
            feed=f"{prefix}:feed",
        )

    def entry(self, gid: int) -> str:
        """The hash holding one entry."""
        return f"{self.prefix}:e:{gid}"

    def script_keys(self) -> list[str]:
        """KEYS of every write script, in the order the scripts expect."""
        return [self.seq, self.last, self.epoch, self.index, self.expiry, self.feed]
