"""Acceptance: query engines, chat engines and a FunctionAgent over the real default embedder."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from llama_index.core import VectorStoreIndex
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.response.schema import StreamingResponse
from llama_index.core.chat_engine.types import ChatMode
from llama_index.core.tools import BaseTool, FunctionTool

from binary_semantic_cache.embeddings import DefaultEmbedder
from bsc_llamaindex import BinarySemanticLLM, BSCEmbedding
from tests.llamaindex.conftest import CountingLLM, ToolCallingLLM, build_index

QUESTION = "What does the warranty cover?"
PARAPHRASE = "What is covered by the warranty?"


def cached(inner: CountingLLM | ToolCallingLLM, embedder: DefaultEmbedder) -> BinarySemanticLLM:
    return BinarySemanticLLM(inner, embedder)


def test_query_engine_answers_a_paraphrase_from_the_cache(
    index: VectorStoreIndex, embedder: DefaultEmbedder
) -> None:
    inner = CountingLLM()
    engine = index.as_query_engine(llm=cached(inner, embedder), similarity_top_k=1)
    first = engine.query(QUESTION)
    assert inner.calls == 1
    assert "Every Acme kettle has a two-year warranty" in inner.prompts[0]
    assert str(engine.query(QUESTION)) == str(first)
    assert str(engine.query(PARAPHRASE)) == str(first)
    assert inner.calls == 1
    assert str(engine.query("Who founded Acme?")) != str(first)
    assert inner.calls == 2


def test_query_engine_over_a_chat_model_splits_the_rag_message(
    index: VectorStoreIndex, embedder: DefaultEmbedder
) -> None:
    inner = CountingLLM(chat_model=True)
    llm = cached(inner, embedder)
    engine = index.as_query_engine(llm=llm, similarity_top_k=1)
    first = str(engine.query(QUESTION))
    assert str(engine.query(PARAPHRASE)) == first
    assert inner.calls == 1
    assert llm.stats().semantic_hits == 1


def test_streaming_query_engine_replays_the_same_text(
    index: VectorStoreIndex, embedder: DefaultEmbedder
) -> None:
    inner = CountingLLM()
    engine = index.as_query_engine(llm=cached(inner, embedder), similarity_top_k=1, streaming=True)
    first, second = engine.query(QUESTION), engine.query(PARAPHRASE)
    assert isinstance(first, StreamingResponse) and isinstance(second, StreamingResponse)
    original, replayed = list(first.response_gen), list(second.response_gen)
    assert inner.calls == 1
    assert len(original) > 1
    assert replayed == original


def test_a_different_retrieved_context_is_not_a_hit(embed_model: BSCEmbedding) -> None:
    inner = CountingLLM()
    llm = BinarySemanticLLM(inner, embed_model)
    for names in (["warranty"], ["returns"]):
        engine = build_index(embed_model, names).as_query_engine(llm=llm, similarity_top_k=1)
        engine.query(QUESTION)
    assert inner.calls == 2
    assert llm.stats().hits == 0


def test_a_different_system_prompt_is_not_a_hit(
    index: VectorStoreIndex, embedder: DefaultEmbedder
) -> None:
    inner = CountingLLM()
    llm = cached(inner, embedder)
    index.as_query_engine(llm=llm, similarity_top_k=1).query(QUESTION)
    llm.system_prompt = "Answer in French."
    index.as_query_engine(llm=llm, similarity_top_k=1).query(QUESTION)
    assert inner.calls == 2
    assert inner.prompts[1].startswith("Answer in French.")


def test_async_query_engine(index: VectorStoreIndex, embedder: DefaultEmbedder) -> None:
    inner = CountingLLM()
    engine = index.as_query_engine(llm=cached(inner, embedder), similarity_top_k=1)

    async def ask() -> tuple[str, str]:
        first = await engine.aquery(QUESTION)
        second = await engine.aquery(PARAPHRASE)
        return str(first), str(second)

    first, second = asyncio.run(ask())
    assert first == second
    assert inner.calls == 1


def test_chat_engine_plain_and_streaming(
    index: VectorStoreIndex, embedder: DefaultEmbedder
) -> None:
    inner = CountingLLM(chat_model=True)
    llm = cached(inner, embedder)

    def engine(system_prompt: str | None = None) -> object:
        return index.as_chat_engine(
            chat_mode=ChatMode.CONTEXT, llm=llm, similarity_top_k=1, system_prompt=system_prompt
        )

    first = str(engine().chat(QUESTION))  # type: ignore[attr-defined]
    assert str(engine().chat(PARAPHRASE)) == first  # type: ignore[attr-defined]
    streamed = engine().stream_chat(PARAPHRASE)  # type: ignore[attr-defined]
    assert "".join(streamed.response_gen) == first
    assert inner.calls == 1
    engine("You are terse.").chat(QUESTION)  # type: ignore[attr-defined]
    assert inner.calls == 2


def test_chat_engine_follow_up_keeps_history_exact(
    index: VectorStoreIndex, embedder: DefaultEmbedder
) -> None:
    inner = CountingLLM(chat_model=True)
    llm = cached(inner, embedder)
    conversation = index.as_chat_engine(chat_mode=ChatMode.CONTEXT, llm=llm, similarity_top_k=1)
    conversation.chat(QUESTION)
    conversation.chat("Who founded Acme?")
    fresh = index.as_chat_engine(chat_mode=ChatMode.CONTEXT, llm=llm, similarity_top_k=1)
    fresh.chat("Who founded Acme?")  # the same question after another history: not a hit
    assert inner.calls == 3


def lookup_price(item: str) -> str:
    """Return the price of an item in the Acme shop."""
    return f"the {item} costs 40 euros"


def check_stock(item: str) -> str:
    """Return how many of an item are in stock."""
    return f"12 {item}s in stock"


def run_agent(agent: FunctionAgent, question: str) -> str:
    async def go() -> str:
        output = await agent.run(user_msg=question)
        return str(output)

    return asyncio.run(go())


# llama-index-workflows reads deprecated pydantic attributes when an agent is built.
_WORKFLOW_WARNINGS = pytest.mark.filterwarnings(
    "ignore::pydantic.warnings.PydanticDeprecatedSince20",
    "ignore::pydantic.warnings.PydanticDeprecatedSince211",
)


@_WORKFLOW_WARNINGS
def test_function_agent_repeats_and_paraphrases(embedder: DefaultEmbedder) -> None:
    inner = ToolCallingLLM()
    llm = cached(inner, embedder)
    tools: list[BaseTool | Callable[..., Any]] = [FunctionTool.from_defaults(lookup_price)]
    agent = FunctionAgent(tools=tools, llm=llm, system_prompt="You help Acme customers.")
    first = run_agent(agent, "What does the kettle cost?")
    assert first == "final 1: the kettle costs 40 euros"
    assert inner.calls == 2  # the tool call, then the answer
    assert run_agent(agent, "What does the kettle cost?") == first
    assert inner.calls == 2
    # The paraphrase's tool call comes from the cache; the answer after the tool result is
    # asked again, since the earlier messages (the paraphrased question) differ.
    assert (
        run_agent(agent, "How much does the kettle cost?") == "final 2: the kettle costs 40 euros"
    )
    assert inner.calls == 3
    assert llm.stats().semantic_hits == 1


@_WORKFLOW_WARNINGS
def test_function_agent_with_other_tools_or_prompt_is_not_a_hit(embedder: DefaultEmbedder) -> None:
    inner = ToolCallingLLM()
    llm = cached(inner, embedder)
    price = FunctionTool.from_defaults(lookup_price)
    stock = FunctionTool.from_defaults(check_stock)
    run_agent(FunctionAgent(tools=[price], llm=llm, system_prompt="Help."), "Kettle price?")
    run_agent(FunctionAgent(tools=[price, stock], llm=llm, system_prompt="Help."), "Kettle price?")
    assert inner.calls == 4
    run_agent(FunctionAgent(tools=[price], llm=llm, system_prompt="Be rude."), "Kettle price?")
    assert inner.calls == 6
    assert llm.stats().hits == 0
