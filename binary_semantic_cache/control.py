"""Per-call control of the cache, without a keyword reaching the model's provider.

``with skip():`` makes the calls inside neither read nor write the cache; ``with refresh():``
makes them call the model and replace what is stored. Both are context variables, so they
follow asyncio tasks and LangChain's thread pools (which copy the context), and both work as
decorators of plain and async functions.

Example:
    .. code-block:: python

        from bsc_langchain import refresh, skip

        with skip():
            llm.invoke("What time is it?")  # never cached

        @refresh()
        async def reload(question: str) -> str:
            return (await llm.ainvoke(question)).content  # a new answer, stored
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable
from typing import Any, Literal, TypeVar

__all__ = ["CacheMode", "current_mode", "refresh", "skip"]

CacheMode = Literal["skip", "refresh"]
F = TypeVar("F", bound=Callable[..., Any])

_MODE: contextvars.ContextVar[CacheMode | None] = contextvars.ContextVar(
    "bsc_cache_mode", default=None
)


def current_mode() -> CacheMode | None:
    """The mode the current call runs in, ``None`` for the usual lookup and write."""
    return _MODE.get()


class _Mode:
    """A context manager and decorator setting the cache mode (re-entrant, nestable)."""

    def __init__(self, mode: CacheMode) -> None:
        self._mode: CacheMode = mode
        self._tokens: list[contextvars.Token[CacheMode | None]] = []

    def __enter__(self) -> None:
        self._tokens.append(_MODE.set(self._mode))

    def __exit__(self, *exc_info: object) -> None:
        _MODE.reset(self._tokens.pop())

    def __call__(self, function: F) -> F:
        mode = self._mode
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with _Mode(mode):
                    return await function(*args, **kwargs)

            return run_async  # type: ignore[return-value]

        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            with _Mode(mode):
                return function(*args, **kwargs)

        return run  # type: ignore[return-value]


def skip() -> _Mode:
    """Calls inside neither read nor write the cache."""
    return _Mode("skip")


def refresh() -> _Mode:
    """Calls inside go to the model, and their answers replace what is stored."""
    return _Mode("refresh")
