"""Concurrent embedding calls share model runs.

A server, an ``abatch`` or a ``batch`` on a thread pool asks for many single questions at once;
embedded each on its own, they compete for the cores (the default model's threads spin) and pay
a model run each. Here, while one run is in flight, the texts that arrive wait, and all of them
go in the next run: no timer, so a lone call runs at once, and under load the runs grow by
themselves (the default model embeds 8 questions at about 2.5 ms each against 4 ms alone on 2
cores). Async calls share runs per event loop; calls from threads share theirs.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from binary_semantic_cache.embeddings.base import (
    Embedder,
    Vectors,
    WrappedEmbedder,
    validate_texts,
)

__all__ = ["CoalescingEmbedder"]

#: The most texts one shared run takes; the rest wait for the next.
DEFAULT_MAX_BATCH = 32


@dataclass
class _Waiting:
    """An async call waiting for a run."""

    texts: list[str]
    future: asyncio.Future[Vectors]


@dataclass
class _Loop:
    """One event loop's calls waiting for a run, and whether a run is in flight."""

    waiting: list[_Waiting] = field(default_factory=list)
    running: bool = False
    # Held so the loop keeps the task alive (it keeps only a weak reference).
    task: asyncio.Task[None] | None = None


@dataclass
class _Blocked:
    """A thread's call waiting for a run: woken with its vectors, its error, or a role."""

    texts: list[str]
    woken: threading.Event = field(default_factory=threading.Event)
    vectors: Vectors | None = None
    error: BaseException | None = None
    lead: bool = False  # run the next shared run
    alone: bool = False  # its shared run failed: embed by itself


Call = TypeVar("Call", _Waiting, _Blocked)


class CoalescingEmbedder(WrappedEmbedder):
    """Runs the texts of concurrent calls together (see the module's docstring).

    When a shared run fails, each of its calls is run alone, so an error (a text too long, a
    refused input) reaches only its caller.
    """

    def __init__(self, inner: Embedder, *, max_batch: int = DEFAULT_MAX_BATCH) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        super().__init__(inner)
        self._max_batch = max_batch
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Loop] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()
        self._blocked: list[_Blocked] = []
        self._leading = False  # a thread's run is in flight; while it is, callers queue

    def __repr__(self) -> str:
        return f"CoalescingEmbedder({self._inner!r}, max_batch={self._max_batch})"

    # -- threads: the first caller leads a run; whoever waits longest leads the next ---------

    def embed(self, texts: Sequence[str]) -> Vectors:
        me = _Blocked(validate_texts(texts))
        with self._lock:
            self._blocked.append(me)
            me.lead = not self._leading
            self._leading = True
        if not me.lead:
            me.woken.wait()
        if me.lead:
            self._lead()
        if me.alone:
            return self._inner.embed(me.texts)
        if me.error is not None:
            raise me.error
        if me.vectors is None:  # every run sets one of the three before waking its calls
            raise RuntimeError("a coalesced embedding call woke without an outcome")
        return me.vectors

    def _lead(self) -> None:
        """Run the waiting calls (the leader's among them), then hand the lead on."""
        with self._lock:
            batch = _take(self._blocked, self._max_batch)
        try:
            _run_blocked(self._inner.embed, batch)
        except BaseException:
            for call in batch:  # interrupted: the others embed by themselves
                call.alone = True
            raise
        finally:
            with self._lock:
                if self._blocked:
                    self._blocked[0].lead = True
                    self._blocked[0].woken.set()
                else:
                    self._leading = False
            for call in batch:
                call.lead = False
                call.woken.set()

    # -- async: one draining task per event loop ----------------------------------------------

    async def aembed(self, texts: Sequence[str]) -> Vectors:
        items = validate_texts(texts)
        loop = asyncio.get_running_loop()
        state = self._loops.setdefault(loop, _Loop())
        waiting = _Waiting(items, loop.create_future())
        state.waiting.append(waiting)
        if not state.running:
            state.running = True
            state.task = loop.create_task(self._drain(state))
        return await waiting.future

    async def _drain(self, state: _Loop) -> None:
        batch: list[_Waiting] = []
        try:
            while state.waiting:
                batch = _take(state.waiting, self._max_batch)
                batch = [w for w in batch if not w.future.done()]  # a cancelled caller
                if len(batch) == 1:
                    await self._run_alone(batch[0])
                elif batch:
                    await self._run_together(batch)
        except BaseException:
            # Cancelled (the loop is closing): nobody may wait for a run that will not come.
            for waiting in (*batch, *state.waiting):
                waiting.future.cancel()
            state.waiting.clear()
            raise
        finally:
            state.running, state.task = False, None

    async def _run_together(self, batch: list[_Waiting]) -> None:
        unique = _distinct_texts(batch)
        try:
            vectors = await self._inner.aembed(unique)
        except Exception:
            for waiting in batch:
                await self._run_alone(waiting)
            return
        for waiting, rows in zip(batch, _rows_of(batch, unique, vectors), strict=True):
            if not waiting.future.done():
                waiting.future.set_result(rows)

    async def _run_alone(self, waiting: _Waiting) -> None:
        try:
            vectors = await self._inner.aembed(waiting.texts)
        except Exception as exc:
            if not waiting.future.done():
                waiting.future.set_exception(exc)
            return
        if not waiting.future.done():
            waiting.future.set_result(vectors)


def _take(waiting: list[Call], max_texts: int) -> list[Call]:
    """Remove and return the first calls of ``waiting`` up to ``max_texts`` texts (at least
    one call, however many texts it has)."""
    count, texts = 0, 0
    for w in waiting:
        if count and texts + len(w.texts) > max_texts:
            break
        count, texts = count + 1, texts + len(w.texts)
    taken = waiting[:count]
    del waiting[:count]
    return taken


def _run_blocked(embed: Callable[[list[str]], Vectors], batch: list[_Blocked]) -> None:
    """Give each call of ``batch`` its vectors, or its error when it ran alone, or, when the
    shared run failed, the task of embedding by itself."""
    if len(batch) == 1:
        try:
            batch[0].vectors = embed(batch[0].texts)
        except Exception as exc:
            batch[0].error = exc
        return
    unique = _distinct_texts(batch)
    try:
        vectors = embed(unique)
    except Exception:
        for call in batch:
            call.alone = True
        return
    for call, rows in zip(batch, _rows_of(batch, unique, vectors), strict=True):
        call.vectors = rows


def _distinct_texts(batch: Sequence[_Waiting | _Blocked]) -> list[str]:
    """The texts of a shared run: each once, in order of arrival."""
    return list(dict.fromkeys(text for call in batch for text in call.texts))


def _rows_of(
    batch: Sequence[_Waiting | _Blocked], unique: list[str], vectors: Vectors
) -> list[Vectors]:
    """Each call's rows of the vectors of ``unique``."""
    row = {text: i for i, text in enumerate(unique)}
    return [np.stack([vectors[row[t]] for t in call.texts]) for call in batch]
