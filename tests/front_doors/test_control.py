"""skip() and refresh(): per-call control that follows threads and tasks, and never reaches
the model as a keyword."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables.config import run_in_executor

from binary_semantic_cache import refresh, skip
from binary_semantic_cache.embeddings import DefaultEmbedder
from bsc_langchain import BinarySemanticLLMCache
from tests.front_doors.conftest import FrontDoor

QUESTION = "How do I descale the kettle?"


def test_skip_neither_reads_nor_writes(front_door: Callable[..., FrontDoor]) -> None:
    door = front_door()
    with skip():
        door.ask(QUESTION)
    door.ask(QUESTION)  # nothing was stored by the skipped call
    with skip():
        door.ask(QUESTION)  # stored now, but skipped: a model call
    assert door.behaviour.calls == 3
    stats = door.stats()
    assert (stats.bypassed, stats.writes, stats.hits) == (2, 1, 0)
    door.ask(QUESTION)
    assert door.behaviour.calls == 3  # the usual lookup hits again


def test_refresh_replaces_the_stored_answer(front_door: Callable[..., FrontDoor]) -> None:
    door = front_door()
    door.ask(QUESTION)
    with refresh():
        door.ask(QUESTION)
    door.ask(QUESTION)
    assert door.behaviour.calls == 2
    assert len(door.cache._engine.core) == 1  # replaced, not added beside the old one


def test_modes_follow_asyncio_tasks_and_decorate_coroutines(
    front_door: Callable[..., FrontDoor],
) -> None:
    door = front_door()

    @skip()
    async def uncached() -> str:
        # A task made inside copies the context: it is skipped too.
        return await asyncio.create_task(door.aask(QUESTION))

    async def run() -> None:
        await uncached()
        await uncached()
        await door.aask(QUESTION)  # outside the decorator: the usual lookup and write
        await door.aask(QUESTION)

    asyncio.run(run())
    assert door.behaviour.calls == 3


def test_modes_follow_langchain_s_thread_pools(embedder: DefaultEmbedder) -> None:
    door = FrontDoor("langchain", embedder)
    with skip():
        # LangChain's own executor helper copies the context into the worker thread.
        asyncio.run(run_in_executor(None, door.ask, QUESTION))
    assert door.stats().bypassed == 1
    with ThreadPoolExecutor(1) as pool:
        pool.submit(door.ask, QUESTION).result()  # a bare pool starts from an empty context
    assert door.stats().bypassed == 1
    door.close()


class Strict(GenericFakeChatModel):
    """A provider-shaped fake: any keyword it does not know is an error, as with real APIs."""

    known: frozenset[str] = frozenset({"temperature"})

    def _generate(self, messages: list[BaseMessage], stop: Any = None, **kwargs: Any) -> ChatResult:
        kwargs.pop("run_manager", None)
        unknown = set(kwargs) - self.known
        if unknown:
            raise TypeError(f"unexpected keyword arguments {sorted(unknown)}")
        return ChatResult(generations=[ChatGeneration(message=AIMessage("fine"))])


def test_no_keyword_of_this_package_reaches_the_provider(embedder: DefaultEmbedder) -> None:
    model = Strict(messages=iter(()), cache=BinarySemanticLLMCache(embedder))
    with skip():
        model.invoke([HumanMessage(QUESTION)])
    with refresh():
        model.invoke([HumanMessage(QUESTION)], temperature=0.2)
    assert model.invoke([HumanMessage(QUESTION)]).content == "fine"


def test_a_cache_keyword_is_honoured_warned_of_and_left_out_of_the_key(
    embedder: DefaultEmbedder,
) -> None:
    door = FrontDoor("langchain", embedder)
    with pytest.warns(UserWarning, match=r"bsc_langchain\.skip"):
        door.model.invoke([HumanMessage(QUESTION)], cache=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        door.model.invoke([HumanMessage(QUESTION)], cache=False)
        assert door.stats().writes == 0  # cache=False: neither read nor written
        door.model.invoke([HumanMessage(QUESTION)])
        door.model.invoke([HumanMessage(QUESTION)], cache=True)  # the same key as no keyword
    assert door.behaviour.calls == 3
    assert door.stats().hits == 1
    door.close()
