"""Fire LlamaIndex's LLM events for a cache hit, exactly as a model call would.

On a miss the wrapped model fires its own callback and instrumentation events, and the wrapper
fires none. On a hit no model runs, so the answer is passed through LlamaIndex's own
``llm_chat_callback`` / ``llm_completion_callback`` instead: observers see one start, the
in-progress events of a stream and one end per call, hit or miss, never two.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any, TypeVar

__all__ = ["areplay", "async_chunks", "replay"]

T = TypeVar("T")
Decorator = Callable[[], Callable[..., Any]]


def replay(llm: Any, decorator: Decorator, first: Any, kwargs: dict[str, Any], result: T) -> T:
    """Return ``result`` (a response or a generator of chunks) through ``decorator``'s events.

    ``first`` is the call's messages or prompt, ``kwargs`` its keyword arguments: they are what
    the events report.
    """

    def call(_self: Any, *_args: Any, **_kwargs: Any) -> T:
        return result

    out: T = decorator()(call)(llm, first, **kwargs)
    return out


async def areplay(
    llm: Any, decorator: Decorator, first: Any, kwargs: dict[str, Any], result: T
) -> T:
    """Async :func:`replay`: ``result`` is a response or an async generator of chunks."""

    async def call(_self: Any, *_args: Any, **_kwargs: Any) -> T:
        return result

    out: T = await decorator()(call)(llm, first, **kwargs)
    return out


async def async_chunks(chunks: Sequence[T]) -> AsyncGenerator[T, None]:
    """Yield ``chunks`` as an async stream."""
    for chunk in chunks:
        yield chunk
