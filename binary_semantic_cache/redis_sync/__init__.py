"""One cache shared by many processes and machines through Redis.

Each process keeps its own core index and answers lookups from it; Redis (6.2 or later, or
Valkey; no modules) holds the shared entries and a change feed that every process tails. The
design is described in ``docs/architecture.md`` ("Shared cache (Redis)"); in short:

- **Store.** Per entry a hash ``{bsc:<namespace>}:e:<id>`` with the embedding (float32 bytes;
  every process re-encodes it with its own encoder, so caches with the same encoder agree), the
  response (str, bytes or JSON, never pickle), partition, expiry and writer. Ids come from
  ``INCR``. Every key has the namespace's hash tag, so a namespace lives in one Cluster slot
  (``redis_cluster=True`` talks to a Redis Cluster; see ``client``).
- **Writes** are one Lua script each (put, delete, clear), which updates the store and appends
  to the feed (a Redis Stream) atomically.
- **Catch-up**: a snapshot of the store, then the feed replayed from where the snapshot began;
  when events were trimmed away (or the store was lost), a full resync.
- **Store reset** (the store came back empty or replaced): each process writes back the entries
  it held, each claimed in Redis by its old id so it is stored once, then resyncs.
- **Redis unreachable**: lookups are local and never wait; writes apply locally and are queued
  (bounded; beyond the bound they stay local and are counted), replayed on reconnect. ``close()``
  tries once more to send what is still queued; what it cannot send is logged and dropped.
"""

from __future__ import annotations

from binary_semantic_cache.redis_sync.client import redact_url
from binary_semantic_cache.redis_sync.engine import SyncEngine
from binary_semantic_cache.redis_sync.options import SyncOptions

__all__ = ["SyncEngine", "SyncOptions", "redact_url"]
