"""A failing cache never fails the call; bad arguments fail at construction with clear errors."""

from __future__ import annotations

import logging

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import Generation
from langchain_core.prompts import ChatPromptTemplate

from bsc_langchain import BinarySemanticLLMCache
from tests.doubles import BrokenEmbedder
from tests.langchain.conftest import (
    CountingEmbedder,
    ToolFakeChatModel,
    numbered_answers,
)


def test_the_chain_answers_from_the_model_when_the_embedder_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache = BinarySemanticLLMCache(BrokenEmbedder())
    model = ToolFakeChatModel(messages=numbered_answers(), cache=cache)
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | model | StrOutputParser()
    with caplog.at_level(logging.DEBUG, logger="bsc_langchain"):
        replies = [
            chain.invoke({"q": q}) for q in ("What is BM25?", "Explain BM25", "What is BM25?")
        ]
    # Without a vector the whole write is skipped, so even the repeat reaches the model.
    assert replies == ["answer 0", "answer 1", "answer 2"]
    stats = cache.stats()
    assert stats.skipped_writes == 3
    assert stats.errors == 3
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, "one warning per exception type, then DEBUG"
    assert "ConnectionError" in warnings[0].getMessage()


@pytest.mark.asyncio
async def test_async_calls_answer_from_the_model_when_the_embedder_raises() -> None:
    cache = BinarySemanticLLMCache(BrokenEmbedder())
    model = ToolFakeChatModel(messages=numbered_answers(), cache=cache)
    assert (await model.ainvoke([HumanMessage("What is BM25?")])).content == "answer 0"
    assert (await model.ainvoke([HumanMessage("Explain BM25")])).content == "answer 1"
    assert cache.stats().errors == 2


def test_a_lookup_failure_is_a_miss(embedder: CountingEmbedder) -> None:
    cache = BinarySemanticLLMCache(embedder)
    cache.update("What is BM25?", "llm", [Generation(text="a ranking function")])

    class FailingIndex:
        def __init__(self, inner: object) -> None:
            self._inner = inner

        def get(self, *args: object, **kwargs: object) -> None:
            raise RuntimeError("index unavailable")

        def __getattr__(self, name: str) -> object:
            return getattr(self._inner, name)

    cache._engine.core = FailingIndex(cache._engine.core)  # type: ignore[assignment]
    assert cache.lookup("Explain BM25 to me", "llm") is None
    assert cache.stats().errors == 1
    # The exact tier does not touch the failing part and still answers.
    assert cache.lookup("What is BM25?", "llm") == [Generation(text="a ranking function")]


def test_an_unserialisable_answer_is_skipped(embedder: CountingEmbedder) -> None:
    cache = BinarySemanticLLMCache(embedder)
    cache.update("q", "llm", [object()])  # type: ignore[list-item]
    assert cache.lookup("q", "llm") is None
    assert cache.stats().skipped_writes == 1


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"similarity_threshold": 1.5},
            ValueError,
            r"similarity_threshold must be within \[0, 1\], got 1.5",
        ),
        ({"similarity_threshold": -0.1}, ValueError, "similarity_threshold"),
        ({"similarity_threshold": float("nan")}, ValueError, "similarity_threshold"),
        ({"similarity_threshold": "high"}, TypeError, "similarity_threshold must be a number"),
        ({"max_entries": 0}, ValueError, "max_entries must be a positive int, got 0"),
        ({"max_entries": 2.5}, ValueError, "max_entries"),
        ({"ttl_seconds": 0}, ValueError, "ttl_seconds must be a positive number"),
        ({"ttl_seconds": float("inf")}, ValueError, "ttl_seconds"),
        ({"namespace": 3}, TypeError, "namespace must be a str, got int"),
    ],
)
def test_bad_arguments_raise_clear_errors(
    embedder: CountingEmbedder, kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        BinarySemanticLLMCache(embedder, **kwargs)  # type: ignore[arg-type]


def test_an_object_that_is_not_an_embedder_is_refused() -> None:
    with pytest.raises(TypeError, match="expected an Embedder"):
        BinarySemanticLLMCache(embedding="all-MiniLM-L6-v2")  # type: ignore[arg-type]


def test_zero_argument_construction_uses_the_default_embedder() -> None:
    cache = BinarySemanticLLMCache()
    assert "MiniLM" in repr(cache)
    model = ToolFakeChatModel(messages=numbered_answers(), cache=cache)
    model.invoke([HumanMessage("How do I reset my password?")])
    assert model.invoke([HumanMessage("How can I reset my password?")]).content == "answer 0"
