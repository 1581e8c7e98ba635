"""Single flight: concurrent misses of one prompt wait for the first caller's model call.

The first caller past the exact tier leads a flight; later callers of the same prompt wait
(threads on an event, asyncio tasks on a future of their own loop) until the leader's lookup
found an answer, its answer is stored, or it gives up; then they look up again. A wait is
bounded: a flight older than ``timeout`` is stale, and its waiters go on to call the model
themselves. A leader's failure is never an
answer: its waiters find nothing stored and call the model.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

__all__ = ["Flight", "Flights"]

# The prompts the current context leads, so a leader asking again (a retry) never waits for
# itself, and a wrapper can give up the flights of a call that failed.
_LED: contextvars.ContextVar[frozenset[bytes]] = contextvars.ContextVar(
    "bsc_cache_led_flights", default=frozenset()
)


class Flight:
    """One prompt's model call in progress."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        # A latch: held from the start until the flight lands. Every lookup that finds nothing
        # leads a flight, so it is a bare lock rather than an Event (a Condition and two locks).
        self._landing = threading.Lock()
        self._landing.acquire()
        self._landed = False
        self._lock = threading.Lock()
        self._futures: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def land(self) -> None:
        """Wake every waiter: the answer is stored, or the leader gave up."""
        with self._lock:
            if self._landed:
                return
            self._landed = True
            futures, self._futures = self._futures, []
        self._landing.release()
        for loop, future in futures:
            if not loop.is_closed():
                loop.call_soon_threadsafe(_resolve, future)

    def wait(self) -> bool:
        """Block until the flight lands or its deadline; whether it landed."""
        if self._landing.acquire(timeout=max(0.0, self.deadline - time.monotonic())):
            self._landing.release()  # the next waiter goes through too
            return True
        return False

    async def await_landing(self) -> bool:
        """:meth:`wait` for asyncio: the event loop goes on meanwhile."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self._landed:
                return True
            self._futures.append((loop, future))
        try:
            await asyncio.wait_for(future, max(0.0, self.deadline - time.monotonic()))
        except asyncio.TimeoutError:  # not yet the built-in TimeoutError on Python 3.10
            return False
        return True


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Flights:
    """The model calls in progress, by prompt key (see the module's docstring)."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._lock = threading.Lock()
        self._flights: dict[bytes, Flight] = {}

    def running(self, key: bytes) -> Flight | None:
        """The flight of ``key`` to wait for: in progress, led by another context."""
        if self._timeout <= 0 or key in _LED.get():
            return None
        with self._lock:
            flight = self._flights.get(key)
        return flight if flight is not None and time.monotonic() < flight.deadline else None

    def lead(self, key: bytes) -> None:
        """Make the current context the leader of ``key``'s flight, unless a live one exists."""
        if self._timeout <= 0:
            return
        now = time.monotonic()
        with self._lock:
            flight = self._flights.get(key)
            if flight is not None and now < flight.deadline:
                return
            self._flights[key] = Flight(now + self._timeout)
        _LED.set(_LED.get() | {key})

    def land(self, key: bytes) -> None:
        """End ``key``'s flight: its answer is stored, or it will not be."""
        with self._lock:
            flight = self._flights.pop(key, None)
        if key in _LED.get():
            _LED.set(_LED.get() - {key})
        if flight is not None:
            flight.land()

    def release(self, key: bytes) -> None:
        """End ``key``'s flight if the current context leads it (its lookup found an answer)."""
        if key in _LED.get():
            self.land(key)

    def give_up_led(self) -> None:
        """End every flight the current context leads (its model call failed)."""
        for key in _LED.get():
            self.land(key)
