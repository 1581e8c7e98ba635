"""Precision guards: a semantic match differing in a number, date or name is a miss."""

from __future__ import annotations

import logging

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.prompts import ChatPromptTemplate

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


def test_a_rag_prompt_in_one_human_message_is_not_answered_for_another_question(
    embedder: CountingEmbedder,
) -> None:
    # The LangChain hub's rlm/rag-prompt: template, question and retrieved context in one
    # human message. Different questions over one context embed above the threshold.
    prompt = ChatPromptTemplate.from_messages([("human", RAG)])
    cache = BinarySemanticLLMCache(embedder)
    chain = prompt | ToolFakeChatModel(messages=numbered_answers(), cache=cache)
    questions = [
        "How long is the warranty?",
        "Does the warranty cover water damage?",
        "Who makes these products?",
        "Can I return a product after 30 days?",
    ]
    vectors = embedder.embed([prompt.format(question=q, context=CONTEXT) for q in questions])
    assert (vectors[1:] @ vectors[0] > cache.similarity_threshold).all()  # what the guard stops
    answers = [chain.invoke({"question": q, "context": CONTEXT}).content for q in questions]
    assert answers == ["answer 0", "answer 1", "answer 2", "answer 3"]
    assert cache.stats().guard_refusals == 3
    # A repeat is still answered.
    assert chain.invoke({"question": questions[1], "context": CONTEXT}).content == "answer 1"


def test_a_rag_prompt_with_the_context_in_a_system_message_matches_questions_by_meaning(
    embedder: CountingEmbedder,
) -> None:
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer from this context only: {context}"), ("human", "{question}")]
    )
    cache = BinarySemanticLLMCache(embedder)
    chain = prompt | ToolFakeChatModel(messages=numbered_answers(), cache=cache)

    def ask(question: str, context: str = CONTEXT) -> object:
        return chain.invoke({"question": question, "context": context}).content

    assert ask("How long is the warranty?") == "answer 0"
    assert ask("How long does the warranty last?") == "answer 0"  # by meaning
    assert ask("Does the warranty cover water damage?") == "answer 1"
    assert ask("How long is the warranty?", context="All sales are final.") == "answer 2"
    stats = cache.stats()
    assert (stats.semantic_hits, stats.misses) == (1, 3)


RAG = (
    "You are an assistant for question-answering tasks. Use the following pieces of retrieved "
    "context to answer the question. If you don't know the answer, just say that you don't know. "
    "Use three sentences maximum and keep the answer concise.\nQuestion: {question} \n"
    "Context: {context} \nAnswer:"
)
CONTEXT = " ".join(
    f"Product line {i} comes with a two year warranty on parts and labour." for i in range(12)
)


# Questions users type that embed above the default threshold and want different answers.
NEAR_BUT_DIFFERENT = [
    (
        "What is the maximum daily dose of ibuprofen for adults?",
        "What is the maximum daily dose of ibuprofen for children?",
    ),
    ("how to round up in excel", "how to round down in excel"),
    ("how to zoom in on a mac", "how to zoom out on a mac"),
    ("give me a recipe for vegan lasagna", "give me a recipe for vegetarian lasagna"),
    (
        "Rewrite this email in a formal tone: I can't make the meeting tomorrow.",
        "Rewrite this email in a casual tone: I can't make the meeting tomorrow.",
    ),
    (
        "what is the difference between == and === in javascript",
        "what is the difference between = and == in javascript",
    ),
]


@pytest.mark.parametrize(("stored", "asked"), NEAR_BUT_DIFFERENT)
def test_a_near_question_that_wants_another_answer_is_not_served(
    embedder: CountingEmbedder, stored: str, asked: str
) -> None:
    vectors = embedder.embed([stored, asked])
    cache = BinarySemanticLLMCache(embedder)
    assert float(vectors[0] @ vectors[1]) > cache.similarity_threshold  # what the guard stops
    model = ToolFakeChatModel(messages=numbered_answers(), cache=cache)
    assert model.invoke([HumanMessage(stored)]).content == "answer 0"
    assert model.invoke([HumanMessage(asked)]).content == "answer 1"
    assert cache.stats().guard_refusals == 1
