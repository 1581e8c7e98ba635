"""Fixtures for what every front door shares: one fake model per framework, with token usage.

Both models answer every prompt with the same text and report the same token usage under the
same model name, so the same requests through either front door must count the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    LLMMetadata,
)
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback

from binary_semantic_cache.embeddings import DefaultEmbedder
from binary_semantic_cache.stats import CacheStats
from bsc_langchain import BinarySemanticLLMCache
from bsc_llamaindex import BinarySemanticLLM

MODEL = "fake-model"
INPUT_TOKENS, OUTPUT_TOKENS = 11, 7
ANSWER = "An answer from the model."

Ask = Callable[[str], str]


class UsageLLM(CustomLLM):
    """A LlamaIndex model that reports token counts as LlamaIndex's OpenAI integration does,
    and fires LlamaIndex's events as model integrations do."""

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name=MODEL, is_chat_model=True)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        counts = {"prompt_tokens": INPUT_TOKENS, "completion_tokens": OUTPUT_TOKENS}
        return CompletionResponse(text=ANSWER, additional_kwargs=counts)

    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
        raise NotImplementedError

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        counts = {"prompt_tokens": INPUT_TOKENS, "completion_tokens": OUTPUT_TOKENS}
        return ChatResponse(
            message=ChatMessage(role="assistant", content=ANSWER), additional_kwargs=counts
        )


def langchain_model(cache: BinarySemanticLLMCache) -> GenericFakeChatModel:
    """A LangChain chat model whose every answer carries usage metadata and its model name."""

    def answers() -> Iterator[AIMessage]:
        while True:
            yield AIMessage(
                ANSWER,
                usage_metadata={
                    "input_tokens": INPUT_TOKENS,
                    "output_tokens": OUTPUT_TOKENS,
                    "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS,
                },
                response_metadata={"model_name": MODEL},
            )

    return GenericFakeChatModel(messages=answers(), cache=cache)


class FrontDoor:
    """One front door over a fresh cache: ``ask`` a question, read ``stats()``, ``close()``."""

    def __init__(self, name: str, embedder: DefaultEmbedder, **options: Any) -> None:
        self.name = name
        if name == "langchain":
            self.cache: Any = BinarySemanticLLMCache(embedder, **options)
            model = langchain_model(self.cache)
            self._ask: Ask = lambda q: str(model.invoke([HumanMessage(q)]).content)
        else:
            self.cache = BinarySemanticLLM(UsageLLM(), embedder, **options)
            llm = self.cache
            self._ask = lambda q: str(
                llm.chat([ChatMessage(role="user", content=q)]).message.content
            )

    def ask(self, question: str) -> str:
        return self._ask(question)

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

    def open_door(**options: Any) -> FrontDoor:
        door = FrontDoor(request.param, embedder, **options)
        opened.append(door)
        return door

    yield open_door
    for door in opened:
        door.close()
