"""Fixtures for the LangChain adapter: the real default embedder and fake chat models."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool

from binary_semantic_cache.embeddings import DefaultEmbedder
from binary_semantic_cache.embeddings.base import WrappedEmbedder
from bsc_langchain import BinarySemanticLLMCache


class CountingEmbedder(WrappedEmbedder):
    """The real default embedder, counting the texts it embeds (to prove a tier needed none)."""

    def __init__(self) -> None:
        super().__init__(DefaultEmbedder())
        self._lock = threading.Lock()
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            self.texts.extend(texts)
        return self._inner.embed(texts)

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            self.texts.extend(texts)
        return await self._inner.aembed(texts)


class ToolFakeChatModel(GenericFakeChatModel):
    """GenericFakeChatModel with a model name, a temperature and ``bind_tools``.

    Both fields reach ``llm_string`` through ``_identifying_params``, as with a real provider.
    """

    model_name: str = "fake-model"
    temperature: float = 0.0

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "temperature": self.temperature}

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: str | None = None, **kwargs: Any
    ) -> Runnable[Any, AIMessage]:
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)


def numbered_answers(
    make: Callable[[int], AIMessage] | None = None,
) -> Iterator[AIMessage]:
    """Answers "answer 0", "answer 1", ...: the number tells which model call produced a reply."""
    for i in itertools.count():
        yield make(i) if make else AIMessage(f"answer {i}")


@pytest.fixture(scope="session")
def embedder() -> CountingEmbedder:
    embedder = CountingEmbedder()
    embedder.embed(["warm up"])  # loads the model once for the session
    return embedder


@pytest.fixture
def cache(embedder: CountingEmbedder) -> BinarySemanticLLMCache:
    return BinarySemanticLLMCache(embedder)


@pytest.fixture
def model(cache: BinarySemanticLLMCache) -> ToolFakeChatModel:
    return ToolFakeChatModel(messages=numbered_answers(), cache=cache)
