"""Server-sent events of a chat completion stream: cut from the upstream, recorded, written out."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

__all__ = ["DONE", "StreamRecord", "event", "events"]

#: The event that ends an OpenAI stream.
DONE = b"data: [DONE]\n\n"


def event(data: Mapping[str, Any]) -> bytes:
    """One ``data:`` event holding ``data`` as JSON."""
    return b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n"


async def events(lines: AsyncIterator[str]) -> AsyncIterator[tuple[bytes, str | None]]:
    """The events of an SSE stream as they complete: (their bytes, their joined ``data``)."""
    block: list[str] = []
    data: list[str] = []
    async for line in lines:
        if line:
            block.append(line)
            if line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
            continue
        if block:
            yield ("\n".join(block) + "\n\n").encode(), "\n".join(data) if data else None
        block, data = [], []
    if block:  # a last event the upstream did not end with a blank line
        yield ("\n".join(block) + "\n\n").encode(), "\n".join(data) if data else None


class StreamRecord:
    """A stream's chunks as they pass, and whether it ended as a complete answer.

    Complete: ``[DONE]`` came, no error event did, and every choice has a finish reason.
    """

    def __init__(self) -> None:
        self.chunks: list[dict[str, Any]] = []
        self.usage: dict[str, Any] | None = None
        self._unfinished: set[int] = set()
        self._done = False
        self._failed = False

    def add(self, data: str) -> None:
        """Record one event's data."""
        if data == "[DONE]":
            self._done = True
            return
        try:
            chunk = json.loads(data)
        except ValueError:
            self._failed = True
            return
        if not isinstance(chunk, dict) or "error" in chunk:
            self._failed = True
            return
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        choices = chunk.get("choices")
        if not choices:
            return  # the usage-only chunk: its usage is kept apart, it is replayed on request
        for choice in choices:
            index = choice.get("index", 0)
            if choice.get("finish_reason") is None:
                self._unfinished.add(index)
            else:
                self._unfinished.discard(index)
        self.chunks.append(chunk)

    @property
    def complete(self) -> bool:
        return self._done and not self._failed and bool(self.chunks) and not self._unfinished
