"""A question longer than the embedder's window is matched exactly, never by meaning."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from binary_semantic_cache.embeddings import OllamaEmbedder
from bsc_langchain import BinarySemanticLLMCache
from tests.embeddings.http_server import EmbeddingServer
from tests.langchain.conftest import CountingEmbedder, ToolFakeChatModel, numbered_answers

# Past the default embedder's 256 tokens: only this shared start would be embedded.
CONTEXT = " ".join(
    f"Product line {i} comes with a two year warranty on parts and labour." for i in range(30)
)
HOW_LONG = f"{CONTEXT}\nQuestion: How long is the warranty?"
WATER = f"{CONTEXT}\nQuestion: Does the warranty cover water damage?"


def test_questions_past_the_window_are_not_matched_by_their_common_start(
    embedder: CountingEmbedder,
) -> None:
    assert embedder.truncates(HOW_LONG) and embedder.truncates(WATER)
    cache = BinarySemanticLLMCache(embedder)
    model = ToolFakeChatModel(messages=numbered_answers(), cache=cache)
    assert model.invoke([HumanMessage(HOW_LONG)]).content == "answer 0"
    assert model.invoke([HumanMessage(WATER)]).content == "answer 1"
    assert model.invoke([HumanMessage(HOW_LONG)]).content == "answer 0"  # a repeat still hits
    stats = cache.stats()
    assert (stats.semantic_hits, stats.exact_hits, stats.misses) == (0, 1, 2)
    assert not any(CONTEXT in text for text in embedder.texts)  # no vector of a cut-off text


def test_a_short_question_is_still_matched_by_meaning(embedder: CountingEmbedder) -> None:
    cache = BinarySemanticLLMCache(embedder)
    model = ToolFakeChatModel(messages=numbered_answers(), cache=cache)
    model.invoke([HumanMessage("How long is the warranty on product line 3?")])
    assert model.invoke([HumanMessage("How long is product line 3's warranty?")]).content == (
        "answer 0"
    )


@pytest.fixture
def ollama() -> Iterator[EmbeddingServer]:
    """An Ollama-speaking server on 127.0.0.1 whose model takes 40 words at most."""
    server = EmbeddingServer()
    server.context_words = 40
    yield server
    server.close()


def ollama_cache(server: EmbeddingServer, path: Path) -> BinarySemanticLLMCache:
    return BinarySemanticLLMCache(
        OllamaEmbedder("all-minilm", base_url=server.url, dim=server.dim), path=path
    )


@pytest.mark.parametrize("status", [400, 500])  # Ollama versions differ
def test_a_question_the_server_refuses_as_too_long_is_matched_exactly(
    ollama: EmbeddingServer, tmp_path: Path, status: int
) -> None:
    ollama.context_status = status
    cache = ollama_cache(ollama, tmp_path)
    model = ToolFakeChatModel(messages=numbered_answers(), cache=cache)
    assert model.invoke([HumanMessage(HOW_LONG)]).content == "answer 0"
    assert model.invoke([HumanMessage(WATER)]).content == "answer 1"
    assert model.invoke([HumanMessage(HOW_LONG)]).content == "answer 0"
    stats = cache.stats()
    assert (stats.exact_hits, stats.misses, stats.writes) == (1, 2, 2)
    assert (stats.errors, stats.skipped_writes) == (0, 0)
    # One refusal per new question: the write after it knows, and nothing is retried.
    assert len(ollama.seen) == 2
    cache.close()

    # A new process over the same directory answers both without asking the server.
    again = ollama_cache(ollama, tmp_path)
    model = ToolFakeChatModel(
        messages=numbered_answers(lambda i: AIMessage(f"new {i}")), cache=again
    )
    assert model.invoke([HumanMessage(WATER)]).content == "answer 1"
    assert model.invoke([HumanMessage(HOW_LONG)]).content == "answer 0"
    assert len(ollama.seen) == 2
    again.close()


def test_async_calls_fall_back_to_exact_matching_too(ollama: EmbeddingServer) -> None:
    cache = BinarySemanticLLMCache(
        OllamaEmbedder("all-minilm", base_url=ollama.url, dim=ollama.dim)
    )
    model = ToolFakeChatModel(messages=numbered_answers(), cache=cache)

    async def run() -> list[str]:
        return [
            str((await model.ainvoke([HumanMessage(text)])).content)
            for text in (HOW_LONG, WATER, WATER, "How long is the warranty?")
        ]

    assert asyncio.run(run()) == ["answer 0", "answer 1", "answer 1", "answer 2"]
    stats = cache.stats()
    assert (stats.exact_hits, stats.misses, stats.errors, stats.writes) == (1, 3, 0, 3)
