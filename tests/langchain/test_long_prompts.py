"""A question longer than the embedder's window is matched exactly, never by meaning."""

from __future__ import annotations

from langchain_core.messages import HumanMessage

from bsc_langchain import BinarySemanticLLMCache
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
