"""Precision guards: a semantic match differing in a number, date or name is a miss."""

from __future__ import annotations

import logging

import pytest
from langchain_core.messages import HumanMessage

from binary_semantic_cache.guards import PrecisionGuards
from bsc_langchain import BinarySemanticLLMCache
from tests.langchain.conftest import CountingEmbedder, ToolFakeChatModel, numbered_answers

STORED = "What were the best phones under $200 in 2023?"
OTHER_YEAR = "What were the best phones under $200 in 2024?"
PARAPHRASE = "Which were the best phones under $200 in 2023?"


def test_a_semantic_match_with_another_year_is_refused(
    embedder: CountingEmbedder, caplog: pytest.LogCaptureFixture
) -> None:
    cache = BinarySemanticLLMCache(embedder)
    model = ToolFakeChatModel(messages=numbered_answers(), cache=cache)
    model.invoke([HumanMessage(STORED)])
    with caplog.at_level(logging.DEBUG, logger="bsc_langchain"):
        assert model.invoke([HumanMessage(OTHER_YEAR)]).content == "answer 1"
    assert "dates differ" in caplog.text
    assert model.invoke([HumanMessage(PARAPHRASE)]).content == "answer 0"
    stats = cache.stats()
    assert (stats.guard_refusals, stats.misses, stats.semantic_hits) == (1, 2, 1)
    # The refused question's own answer was stored and serves its repeat.
    assert model.invoke([HumanMessage(OTHER_YEAR)]).content == "answer 1"


def test_guards_can_be_turned_off(embedder: CountingEmbedder) -> None:
    cache = BinarySemanticLLMCache(embedder, guards=False)
    model = ToolFakeChatModel(messages=numbered_answers(), cache=cache)
    model.invoke([HumanMessage(STORED)])
    assert model.invoke([HumanMessage(OTHER_YEAR)]).content == "answer 0"
    assert cache.stats().guard_refusals == 0


def test_own_guards_run_only_their_checks(embedder: CountingEmbedder) -> None:
    cache = BinarySemanticLLMCache(embedder, guards=PrecisionGuards(checks=["entities"]))
    assert "entities" in repr(cache)
    model = ToolFakeChatModel(messages=numbered_answers(), cache=cache)
    model.invoke([HumanMessage(STORED)])
    assert model.invoke([HumanMessage(OTHER_YEAR)]).content == "answer 0"


@pytest.mark.parametrize("guards", ["yes", None, 1, ["dates"]])
def test_guards_of_the_wrong_type_are_refused(embedder: CountingEmbedder, guards: object) -> None:
    with pytest.raises(TypeError, match=r"guards must be True, False or a .*PrecisionGuards"):
        BinarySemanticLLMCache(embedder, guards=guards)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [0, -1, 2.5, True])
def test_a_bad_exact_tier_size_is_refused(embedder: CountingEmbedder, size: object) -> None:
    with pytest.raises(ValueError, match="exact_tier_size must be a positive int"):
        BinarySemanticLLMCache(embedder, exact_tier_size=size)  # type: ignore[arg-type]
