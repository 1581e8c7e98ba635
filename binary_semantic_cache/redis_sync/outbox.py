"""Writes waiting for Redis: a bounded queue replayed in order on reconnect."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from binary_semantic_cache.redis_sync.store import PutRow


@dataclass(frozen=True)
class QueuedPut:
    token: int
    row: PutRow
    queued_at: float = field(default_factory=time.monotonic)

    def remaining_ttl_ms(self) -> int | None:
        """The TTL left at replay (0 = none), or None when the entry has expired meanwhile."""
        if self.row.ttl_ms == 0:
            return 0
        left = self.row.ttl_ms - int((time.monotonic() - self.queued_at) * 1000)
        return left if left > 0 else None


@dataclass(frozen=True)
class QueuedDelete:
    gid: int
    epoch: str


@dataclass(frozen=True)
class QueuedClear:
    partition: str | None
    prefix: bool
    # the store the clear was meant for ("" before the first sync)
    epoch: str


Op = QueuedPut | QueuedDelete | QueuedClear


class Outbox:
    """At most ``bound`` writes; a write beyond it is dropped and counted."""

    def __init__(self, bound: int) -> None:
        self._ops: deque[Op] = deque()
        self._bound = bound
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._ops)

    def push(self, op: Op) -> bool:
        if len(self._ops) >= self._bound:
            self.dropped += 1
            return False
        self._ops.append(op)
        return True

    def peek(self) -> Op:
        return self._ops[0]

    def pop(self) -> None:
        self._ops.popleft()

    def discard_puts(self, tokens: Callable[[int], bool]) -> None:
        """Forgets queued puts whose entry was deleted before it reached Redis."""
        self._ops = deque(
            op for op in self._ops if not (isinstance(op, QueuedPut) and tokens(op.token))
        )
