"""Persistence, closing and the exact tier: everything needed to answer lives in the core."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.outputs import Generation

from bsc_langchain import BinarySemanticLLMCache
from tests.langchain.conftest import CountingEmbedder, ToolFakeChatModel, numbered_answers

SYSTEM = SystemMessage("You are a concise assistant.")
QUESTION = "What is the capital of France?"
PARAPHRASE = "What's the capital city of France?"
TOOL_TURN: list[BaseMessage] = [
    HumanMessage("Weather in Paris?"),
    AIMessage("", tool_calls=[{"name": "weather", "args": {"city": "Paris"}, "id": "c1"}]),
    ToolMessage("18C and sunny", tool_call_id="c1"),
]


def ask(question: str) -> list[BaseMessage]:
    return [SYSTEM, HumanMessage(question)]


def test_a_new_instance_over_the_same_path_answers_without_the_model(
    embedder: CountingEmbedder, tmp_path: Path
) -> None:
    with BinarySemanticLLMCache(embedder, path=tmp_path / "cache") as cache:
        model = ToolFakeChatModel(messages=numbered_answers(), cache=cache)
        assert model.invoke(ask(QUESTION)).content == "answer 0"
        assert model.invoke(TOOL_TURN).content == "answer 1"

    reopened = BinarySemanticLLMCache(embedder, path=tmp_path / "cache")
    fresh = ToolFakeChatModel(messages=numbered_answers(), cache=reopened)
    paraphrase = fresh.invoke(ask(PARAPHRASE))
    assert paraphrase.content == "answer 0"
    assert paraphrase.response_metadata["cache_tier"] == "semantic"
    repeat = fresh.invoke(ask(QUESTION))
    assert repeat.content == "answer 0"
    # Found in the core by its stored question, so labelled exact and kept for the next repeat.
    assert repeat.response_metadata["cache_tier"] == "exact"
    assert fresh.invoke(TOOL_TURN).content == "answer 1"
    embedded = len(embedder.texts)
    assert fresh.invoke(ask(QUESTION)).content == "answer 0"
    assert len(embedder.texts) == embedded, "a promoted repeat needs no embedding"
    stats = reopened.stats()
    assert (stats.hits, stats.exact_hits, stats.misses) == (4, 3, 0)
    reopened.close()


def test_close_releases_the_directory_and_later_calls_are_misses(
    embedder: CountingEmbedder, tmp_path: Path
) -> None:
    cache = BinarySemanticLLMCache(embedder, path=tmp_path)
    cache.update(QUESTION, "llm", [Generation(text="Paris")])
    with pytest.raises(OSError, match="already open"):
        BinarySemanticLLMCache(embedder, path=tmp_path)
    cache.close()
    cache.close()  # idempotent
    assert cache.lookup(QUESTION, "llm") is None
    cache.update("Another question?", "llm", [Generation(text="x")])
    assert cache.stats().errors == 2
    with BinarySemanticLLMCache(embedder, path=tmp_path) as reopened:
        assert reopened.lookup(QUESTION, "llm") == [Generation(text="Paris")]


def test_a_path_that_is_a_file_is_refused(embedder: CountingEmbedder, tmp_path: Path) -> None:
    file = tmp_path / "cache"
    file.write_text("not a cache")
    with pytest.raises(OSError, match="not a directory"):
        BinarySemanticLLMCache(embedder, path=file)


def test_a_path_of_another_type_is_refused(embedder: CountingEmbedder) -> None:
    with pytest.raises(TypeError, match="path must be a directory path"):
        BinarySemanticLLMCache(embedder, path=42)  # type: ignore[arg-type]


def test_the_exact_tier_is_bounded_and_repeats_beyond_it_still_hit_exactly(
    embedder: CountingEmbedder,
) -> None:
    cache = BinarySemanticLLMCache(embedder, exact_tier_size=2)
    model = ToolFakeChatModel(messages=numbered_answers(), cache=cache)
    questions = [QUESTION, "How do I reverse a list in Python?", "When did World War I end?"]
    for question in questions:
        model.invoke(ask(question))
    assert len(cache._engine.exact_tier) == 2
    first = model.invoke(ask(QUESTION))
    assert first.content == "answer 0"
    assert first.response_metadata["cache_tier"] == "exact"
    assert len(cache._engine.exact_tier) == 2
    assert cache.stats().exact_hits == 1


def test_exact_only_prompts_live_in_the_core_and_are_evicted_with_the_rest(
    embedder: CountingEmbedder,
) -> None:
    cache = BinarySemanticLLMCache(embedder, max_entries=1)
    model = ToolFakeChatModel(messages=numbered_answers(), cache=cache)
    model.invoke(TOOL_TURN)
    assert len(cache._engine.core) == 1
    model.invoke(ask(QUESTION))  # evicts the tool turn's answer from the core
    assert len(cache._engine.core) == 1
    assert model.invoke(TOOL_TURN).content == "answer 2"


def test_a_cleared_partition_leaves_the_exact_tier(embedder: CountingEmbedder) -> None:
    cache = BinarySemanticLLMCache(embedder)
    model = ToolFakeChatModel(messages=numbered_answers(), cache=cache)
    model.invoke(ask(QUESTION))
    model.invoke(TOOL_TURN)
    cache.clear(llm_string=model._get_llm_string())
    assert len(cache._engine.core) == 0 and len(cache._engine.exact_tier) == 0
    assert model.invoke(ask(QUESTION)).content == "answer 2"
    assert model.invoke(TOOL_TURN).content == "answer 3"


def test_partitions_share_a_prefix_per_namespace_and_model(embedder: CountingEmbedder) -> None:
    cache = BinarySemanticLLMCache(embedder)
    answers = numbered_answers()
    small = ToolFakeChatModel(messages=answers, cache=cache, model_name="small")
    large = ToolFakeChatModel(messages=answers, cache=cache, model_name="large")
    small.invoke(ask(QUESTION))
    large.invoke(TOOL_TURN)
    partitions = [entry.partition for entry in cache._engine.exact_tier._items.values()]
    namespaces, models = zip(*(p.split("/")[:2] for p in partitions), strict=True)
    assert len(set(namespaces)) == 1 and len(set(models)) == 2
    assert all(len(p.split("/")) == 4 for p in partitions)


def test_an_unseen_context_is_a_miss_without_an_embedding(embedder: CountingEmbedder) -> None:
    cache = BinarySemanticLLMCache(embedder)
    cache.update("Q: What is BM25?", "llm-a", [Generation(text="a ranking function")])
    embedded = len(embedder.texts)
    assert cache.lookup("Q: Explain BM25", "llm-b") is None  # no partition for llm-b yet
    assert len(embedder.texts) == embedded
    assert cache.lookup("Q: Explain BM25", "llm-a") is not None  # searched: one embedding
    assert len(embedder.texts) == embedded + 1
