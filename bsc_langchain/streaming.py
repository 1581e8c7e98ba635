"""Chat models' ``stream`` and ``astream`` through the cache, with nothing but ``set_llm_cache``.

langchain-core reads the cache only in ``invoke``/``generate``: ``BaseChatModel.stream`` and
``astream`` call the model's ``_stream``/``_astream`` directly (and so do ``astream_events`` and
chains streaming through the model). :func:`install` wraps those methods with wrapt, once and
idempotently, when the first :class:`~bsc_langchain.BinarySemanticLLMCache` is made:

- ``stream``/``astream`` of any chat model whose cache (its own ``cache=`` or the global one) is
  a ``BinarySemanticLLMCache`` claims the model's ``_stream``/``_astream`` call for the cache,
  which replays a hit as chunks or relays and stores a miss. LangChain's own ``stream`` still
  runs around it: callbacks, tracing, run ids and the final chunk are as for a model call.
- ``_generate_with_cache``/``_agenerate_with_cache`` (a chat model's ``invoke`` path) and
  ``BaseLLM._generate_helper``/``_agenerate_helper`` (an LLM's) give up the single-flight lead
  of a model call that raised, so callers waiting for it call the model themselves.

Whenever the model's cache is another one (or ``cache=False``), every wrapper only passes the
call on: setting another cache undoes the behaviour without unwrapping anything.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import wrapt
from langchain_core.caches import BaseCache
from langchain_core.globals import get_llm_cache
from langchain_core.language_models import BaseChatModel, BaseLLM
from langchain_core.load import dumps
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk

__all__ = ["install"]

# Set by stream()/astream() just while LangChain starts the model's stream, and taken by the
# _stream/_astream call it makes: a model call nested anywhere else is never claimed.
_CLAIM: contextvars.ContextVar[Any] = contextvars.ContextVar("bsc_cache_stream_claim", default=None)
_lock = threading.Lock()
_installed = False


def install() -> None:
    """Wrap LangChain's chat-model streaming and model-call methods (once per process)."""
    global _installed
    with _lock:
        if _installed:
            return
        wrapt.wrap_function_wrapper(BaseChatModel, "stream", _claimed_stream)
        wrapt.wrap_function_wrapper(BaseChatModel, "astream", _claimed_astream)
        wrapt.wrap_function_wrapper(BaseChatModel, "_generate_with_cache", _released_on_error)
        wrapt.wrap_function_wrapper(BaseChatModel, "_agenerate_with_cache", _areleased_on_error)
        wrapt.wrap_function_wrapper(BaseLLM, "_generate_helper", _released_on_error)
        wrapt.wrap_function_wrapper(BaseLLM, "_agenerate_helper", _areleased_on_error)
        _installed = True


def _our_cache(model: BaseChatModel | BaseLLM) -> Any:
    """The model's cache when it is a BinarySemanticLLMCache, else ``None``."""
    from bsc_langchain.cache import BinarySemanticLLMCache

    if model.cache is False:
        return None
    cache = model.cache if isinstance(model.cache, BaseCache) else get_llm_cache()
    return cache if isinstance(cache, BinarySemanticLLMCache) else None


def _streams(model: BaseChatModel, async_api: bool, kwargs: dict[str, Any]) -> bool:
    """Whether ``stream``/``astream`` will call the model's own stream (as LangChain decides)."""
    return bool(model._should_stream(async_api=async_api, **{**kwargs, "stream": True}))


def _claimed_stream(
    wrapped: Callable[..., Iterator[Any]], model: BaseChatModel, args: Any, kwargs: Any
) -> Iterator[Any]:
    cache = _our_cache(model)
    if cache is None or not _streams(model, False, kwargs):
        return wrapped(*args, **kwargs)
    _wrap_model_class(type(model))
    return _claiming(wrapped(*args, **kwargs), cache)


def _claiming(stream: Iterator[Any], cache: Any) -> Iterator[Any]:
    token = _CLAIM.set(cache)
    try:
        # LangChain's stream() opens its run and calls the model's _stream() before its first
        # chunk; the claim lasts exactly that long.
        first = next(stream)
    except StopIteration:
        return
    finally:
        _CLAIM.reset(token)
    yield first
    yield from stream


def _claimed_astream(
    wrapped: Callable[..., AsyncIterator[Any]], model: BaseChatModel, args: Any, kwargs: Any
) -> AsyncIterator[Any]:
    cache = _our_cache(model)
    if cache is None or not _streams(model, True, kwargs):
        return wrapped(*args, **kwargs)
    _wrap_model_class(type(model))
    return _aclaiming(wrapped(*args, **kwargs), cache)


async def _aclaiming(stream: AsyncIterator[Any], cache: Any) -> AsyncIterator[Any]:
    token = _CLAIM.set(cache)
    try:
        first = await anext(stream)
    except StopAsyncIteration:
        return
    finally:
        _CLAIM.reset(token)
    yield first
    async for chunk in stream:
        yield chunk


def _wrap_model_class(cls: type[BaseChatModel]) -> None:
    """Wrap the class's own ``_stream``/``_astream`` (only those it implements: LangChain reads
    an unimplemented one as "cannot stream")."""
    with _lock:
        wrappers: tuple[tuple[str, Callable[..., Any]], ...] = (
            ("_stream", _model_stream),
            ("_astream", _model_astream),
        )
        for name, wrapper in wrappers:
            method = getattr(cls, name)
            implemented = method is not getattr(BaseChatModel, name)
            if implemented and not isinstance(cls.__dict__.get(name), wrapt.FunctionWrapper):
                wrapt.wrap_function_wrapper(cls, name, wrapper)


def _key(model: BaseChatModel, args: Any, kwargs: dict[str, Any]) -> tuple[str, str]:
    """(prompt, llm_string) of a ``_stream`` call, exactly as ``_generate_with_cache`` makes them
    for ``invoke``, so the two paths share answers."""
    messages: list[BaseMessage] = args[0] if args else kwargs["messages"]
    stop = args[1] if len(args) > 1 else kwargs.get("stop")
    params = {k: v for k, v in kwargs.items() if k not in ("messages", "stop", "run_manager")}
    unnamed = [m.model_copy(update={"id": None}) if m.id is not None else m for m in messages]
    return dumps(unnamed), model._get_llm_string(stop=stop, **params)


def _model_stream(
    wrapped: Callable[..., Iterator[ChatGenerationChunk]],
    model: BaseChatModel,
    args: Any,
    kwargs: Any,
) -> Iterator[ChatGenerationChunk]:
    cache = _CLAIM.get()
    if cache is None:
        return wrapped(*args, **kwargs)
    _CLAIM.set(None)  # taken: a call the model makes itself is not this stream
    prompt, llm_string = _key(model, args, kwargs)
    stream: Iterator[ChatGenerationChunk] = cache.stream(
        prompt, llm_string, lambda: wrapped(*args, **kwargs)
    )
    return stream


def _model_astream(
    wrapped: Callable[..., AsyncIterator[ChatGenerationChunk]],
    model: BaseChatModel,
    args: Any,
    kwargs: Any,
) -> AsyncIterator[ChatGenerationChunk]:
    cache = _CLAIM.get()
    if cache is None:
        return wrapped(*args, **kwargs)
    _CLAIM.set(None)
    prompt, llm_string = _key(model, args, kwargs)
    stream: AsyncIterator[ChatGenerationChunk] = cache.astream(
        prompt, llm_string, lambda: wrapped(*args, **kwargs)
    )
    return stream


def _released_on_error(
    wrapped: Callable[..., Any], model: BaseChatModel | BaseLLM, args: Any, kwargs: Any
) -> Any:
    try:
        return wrapped(*args, **kwargs)
    except BaseException:
        _give_up_lead(model)
        raise


async def _areleased_on_error(
    wrapped: Callable[..., Any], model: BaseChatModel | BaseLLM, args: Any, kwargs: Any
) -> Any:
    try:
        return await wrapped(*args, **kwargs)
    except BaseException:
        _give_up_lead(model)
        raise


def _give_up_lead(model: BaseChatModel | BaseLLM) -> None:
    cache = _our_cache(model)
    if cache is not None:
        cache.abandon_led()
