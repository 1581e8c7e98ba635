"""Fixtures for what every front door shares: one fake model per framework, with token usage.

Both models answer every prompt with the same text and report the same token usage under the
same model name, so the same requests through either front door must count the same. Both
count their calls, and can be made slow (to overlap a burst) or to fail their first calls.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    LLMMetadata,
)
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from pydantic import PrivateAttr

from binary_semantic_cache.embeddings import DefaultEmbedder
from binary_semantic_cache.stats import CacheStats
from bsc_langchain import BinarySemanticLLMCache
from bsc_llamaindex import BinarySemanticLLM

MODEL = "fake-model"
INPUT_TOKENS, OUTPUT_TOKENS = 11, 7
ANSWER = "An answer from the model."
COUNTS = {"prompt_tokens": INPUT_TOKENS, "completion_tokens": OUTPUT_TOKENS}


class Behaviour:
    """How a fake model answers: after ``delay`` seconds, failing its first ``failures`` calls."""

    def __init__(self, delay: float = 0.0, failures: int = 0) -> None:
        self.delay = delay
        self.failures = failures
        self.calls = 0
        self._lock = threading.Lock()

    def _count(self) -> None:
        with self._lock:
            self.calls += 1
            failing = self.calls <= self.failures
        if failing:
            raise ConnectionError("the model's provider is down")

    def answer(self) -> None:
        time.sleep(self.delay)
        self._count()

    async def aanswer(self) -> None:
        await asyncio.sleep(self.delay)
        self._count()


def ai_message() -> AIMessage:
    return AIMessage(
        ANSWER,
        usage_metadata={
            "input_tokens": INPUT_TOKENS,
            "output_tokens": OUTPUT_TOKENS,
            "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS,
        },
        response_metadata={"model_name": MODEL},
    )


class CountingChatModel(GenericFakeChatModel):
    """LangChain's fake chat model, answering as its ``behaviour`` says (thread-safe)."""

    behaviour: Any = None

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        self.behaviour.answer()
        return ChatResult(generations=[ChatGeneration(message=ai_message())])

    async def _agenerate(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> ChatResult:
        await self.behaviour.aanswer()
        return ChatResult(generations=[ChatGeneration(message=ai_message())])


def langchain_model(
    cache: BinarySemanticLLMCache, behaviour: Behaviour | None = None
) -> CountingChatModel:
    """A LangChain chat model whose every answer carries usage metadata and its model name."""
    return CountingChatModel(messages=iter(()), cache=cache, behaviour=behaviour or Behaviour())


class UsageLLM(CustomLLM):
    """A LlamaIndex model that reports token counts as LlamaIndex's OpenAI integration does,
    and fires LlamaIndex's events as model integrations do."""

    _behaviour: Behaviour = PrivateAttr(default_factory=Behaviour)

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name=MODEL, is_chat_model=True)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self._behaviour.answer()
        return CompletionResponse(text=ANSWER, additional_kwargs=COUNTS)

    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
        raise NotImplementedError

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        self._behaviour.answer()
        return ChatResponse(
            message=ChatMessage(role="assistant", content=ANSWER), additional_kwargs=COUNTS
        )

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        await self._behaviour.aanswer()
        return ChatResponse(
            message=ChatMessage(role="assistant", content=ANSWER), additional_kwargs=COUNTS
        )


class FrontDoor:
    """One front door over a fresh cache: ``ask`` (or ``aask``) a question, read ``stats()``
    and the model's ``behaviour.calls``, ``close()``."""

    def __init__(
        self,
        name: str,
        embedder: DefaultEmbedder,
        behaviour: Behaviour | None = None,
        **options: Any,
    ) -> None:
        self.name = name
        self.behaviour = behaviour or Behaviour()
        if name == "langchain":
            self.cache: Any = BinarySemanticLLMCache(embedder, **options)
            self.model: Any = langchain_model(self.cache, self.behaviour)
        else:
            inner = UsageLLM()
            inner._behaviour = self.behaviour
            self.cache = BinarySemanticLLM(inner, embedder, **options)

    def ask(self, question: str) -> str:
        if self.name == "langchain":
            return str(self.model.invoke([HumanMessage(question)]).content)
        return str(self.cache.chat([ChatMessage(role="user", content=question)]).message.content)

    def ask_for_metadata(self, question: str) -> dict[str, Any]:
        """Ask, and return where the front door puts a hit's marks (LangChain: the message's
        ``response_metadata``; LlamaIndex: the response's ``additional_kwargs``)."""
        if self.name == "langchain":
            return dict(self.model.invoke([HumanMessage(question)]).response_metadata)
        response = self.cache.chat([ChatMessage(role="user", content=question)])
        return dict(response.additional_kwargs)

    async def aask(self, question: str) -> str:
        if self.name == "langchain":
            return str((await self.model.ainvoke([HumanMessage(question)])).content)
        response = await self.cache.achat([ChatMessage(role="user", content=question)])
        return str(response.message.content)

    def stats(self) -> CacheStats:
        stats: CacheStats = self.cache.stats()
        return stats

    def close(self) -> None:
        self.cache.close()


@pytest.fixture(scope="session")
def embedder() -> DefaultEmbedder:
    embedder = DefaultEmbedder()
    embedder.embed(["warm up"])
    return embedder


@pytest.fixture(params=["langchain", "llamaindex"])
def front_door(
    request: pytest.FixtureRequest, embedder: DefaultEmbedder
) -> Iterator[Callable[..., FrontDoor]]:
    """Opens the front door of the test's parameter over a fresh cache, with these options."""
    opened: list[FrontDoor] = []

    def open_door(behaviour: Behaviour | None = None, **options: Any) -> FrontDoor:
        door = FrontDoor(request.param, embedder, behaviour, **options)
        opened.append(door)
        return door

    yield open_door
    for door in opened:
        door.close()
