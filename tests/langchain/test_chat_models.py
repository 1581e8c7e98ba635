"""The cache under LangChain call paths: fake chat models, the real default embedder."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from langchain_core.globals import get_llm_cache, set_llm_cache
from langchain_core.language_models import FakeListLLM
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatGeneration, Generation
from langchain_core.prompts import ChatPromptTemplate
from pydantic import BaseModel

from bsc_langchain import BinarySemanticLLMCache, ModelPrice
from tests.langchain.conftest import CountingEmbedder, ToolFakeChatModel, numbered_answers

SYSTEM = SystemMessage("You are a concise assistant.")
QUESTION = "What is the capital of France?"
PARAPHRASE = "What's the capital city of France?"


def ask(question: str, system: SystemMessage = SYSTEM) -> list[BaseMessage]:
    return [system, HumanMessage(question)]


def test_a_paraphrase_is_answered_from_the_cache(model: ToolFakeChatModel) -> None:
    first = model.invoke(ask(QUESTION))
    second = model.invoke(ask(PARAPHRASE))
    assert first.content == second.content == "answer 0"
    assert "cache_hit" not in first.response_metadata
    assert second.response_metadata["cache_hit"] is True
    assert second.response_metadata["cache_tier"] == "semantic"
    assert 0.0 < second.response_metadata["cache_similarity"] < 1.0
    assert second.id is None


def test_a_repeat_is_answered_without_an_embedding(
    model: ToolFakeChatModel, embedder: CountingEmbedder, cache: BinarySemanticLLMCache
) -> None:
    model.invoke(ask(QUESTION))
    embedded = len(embedder.texts)
    again = model.invoke(ask(QUESTION))
    assert again.content == "answer 0"
    assert again.response_metadata["cache_tier"] == "exact"
    assert len(embedder.texts) == embedded
    stats = cache.stats()
    assert (stats.exact_hits, stats.semantic_hits, stats.misses) == (1, 0, 1)


def test_a_different_question_is_not_answered(model: ToolFakeChatModel) -> None:
    model.invoke(ask(QUESTION))
    assert model.invoke(ask("How do I bake sourdough bread?")).content == "answer 1"


def test_a_different_system_prompt_does_not_hit(model: ToolFakeChatModel) -> None:
    model.invoke(ask(QUESTION))
    other = model.invoke(ask(QUESTION, SystemMessage("You answer in French.")))
    assert other.content == "answer 1"


def test_a_different_history_does_not_hit(model: ToolFakeChatModel) -> None:
    model.invoke(
        [SYSTEM, HumanMessage("Hi, I'm Ann."), AIMessage("Hello Ann!"), HumanMessage(QUESTION)]
    )
    other = model.invoke(
        [SYSTEM, HumanMessage("Hi, I'm Bob."), AIMessage("Hello Bob!"), HumanMessage(QUESTION)]
    )
    assert other.content == "answer 1"


def get_weather(city: str) -> str:
    """Return the weather in a city."""
    return city


def get_time(city: str) -> str:
    """Return the local time in a city."""
    return city


def test_different_tools_do_not_hit(model: ToolFakeChatModel) -> None:
    model.bind_tools([get_weather]).invoke(ask(QUESTION))
    assert model.bind_tools([get_time]).invoke(ask(QUESTION)).content == "answer 1"
    assert model.invoke(ask(QUESTION)).content == "answer 2"
    assert model.bind_tools([get_weather]).invoke(ask(PARAPHRASE)).content == "answer 0"


def test_a_different_temperature_does_not_hit(cache: BinarySemanticLLMCache) -> None:
    answers = numbered_answers()
    cold = ToolFakeChatModel(messages=answers, cache=cache, temperature=0.0)
    warm = ToolFakeChatModel(messages=answers, cache=cache, temperature=0.7)
    cold.invoke(ask(QUESTION))
    assert warm.invoke(ask(QUESTION)).content == "answer 1"
    # A call-time argument reaches llm_string too.
    assert cold.invoke(ask(QUESTION), temperature=0.9).content == "answer 2"


def test_a_different_model_does_not_hit(cache: BinarySemanticLLMCache) -> None:
    answers = numbered_answers()
    small = ToolFakeChatModel(messages=answers, cache=cache, model_name="small")
    large = ToolFakeChatModel(messages=answers, cache=cache, model_name="large")
    small.invoke(ask(QUESTION))
    assert large.invoke(ask(PARAPHRASE)).content == "answer 1"
    assert large.invoke(ask(QUESTION)).content == "answer 1"


def test_a_different_namespace_does_not_hit(embedder: CountingEmbedder) -> None:
    """Same store contents, another tenant: the namespace is part of every key."""
    tenant_a = BinarySemanticLLMCache(embedder, namespace="a")
    tenant_b = BinarySemanticLLMCache(embedder, namespace="b")
    # Share tenant a's stores with tenant b, so only the namespace tells them apart.
    tenant_b._engine = tenant_a._engine
    answers = numbered_answers()
    ToolFakeChatModel(messages=answers, cache=tenant_a).invoke(ask(QUESTION))
    model_b = ToolFakeChatModel(messages=answers, cache=tenant_b)
    assert model_b.invoke(ask(QUESTION)).content == "answer 1"
    assert model_b.invoke(ask(PARAPHRASE)).content == "answer 1"
    assert tenant_b.stats().exact_hits == 0


def test_a_tool_result_turn_matches_only_exactly(model: ToolFakeChatModel) -> None:
    def turn(result: str) -> list[BaseMessage]:
        call = AIMessage(
            "", tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "c1"}]
        )

        return [HumanMessage("Weather in Paris?"), call, ToolMessage(result, tool_call_id="c1")]

    model.invoke(turn("sunny, 21 C"))
    assert model.invoke(turn("sunny, 21 C")).content == "answer 0"
    assert model.invoke(turn("sunny, 21 degrees C")).content == "answer 1"


def test_a_follow_up_hits_after_a_first_answer_served_from_the_cache(
    embedder: CountingEmbedder,
) -> None:
    # The history's answer reaches the model as its text: the provider's response id and
    # token counts, or the cache marks of a served answer, must not split the context.
    def answer(i: int) -> AIMessage:
        usage = {"input_tokens": 7, "output_tokens": 5 + i, "total_tokens": 12 + i}
        return AIMessage(
            f"answer {i}", response_metadata={"id": f"chatcmpl-{i}"}, usage_metadata=usage
        )

    cache = BinarySemanticLLMCache(embedder)
    model = ToolFakeChatModel(messages=numbered_answers(answer), cache=cache)
    first = model.invoke([HumanMessage(QUESTION)])
    more = model.invoke([HumanMessage(QUESTION), first, HumanMessage("Tell me more.")])
    assert (first.content, more.content) == ("answer 0", "answer 1")
    # another user, the same two turns: the first answer now comes from the cache
    again = model.invoke([HumanMessage(QUESTION)])
    assert again.response_metadata["cache_hit"] is True
    follow_up = model.invoke([HumanMessage(QUESTION), again, HumanMessage("Tell me more.")])
    assert follow_up.content == "answer 1"
    assert follow_up.response_metadata["cache_hit"] is True


def test_an_agent_step_hits_with_new_tool_call_ids(model: ToolFakeChatModel) -> None:
    def step(call_id: str) -> list[BaseMessage]:
        call = {"name": "weather", "args": {"city": "Paris"}, "id": call_id}
        return [
            HumanMessage("Weather in Paris?"),
            AIMessage("", tool_calls=[call], response_metadata={"id": call_id}),
            ToolMessage("sunny", tool_call_id=call_id),
        ]

    assert model.invoke(step("call_x1")).content == "answer 0"
    assert model.invoke(step("call_y2")).content == "answer 0"


def test_hits_are_fresh_objects(model: ToolFakeChatModel) -> None:
    model.invoke(ask(QUESTION))
    hit = model.invoke(ask(QUESTION))
    hit.content = "tampered"
    hit.response_metadata["tampered"] = True
    for question in (QUESTION, PARAPHRASE):
        again = model.invoke(ask(question))
        assert again.content == "answer 0"
        assert "tampered" not in again.response_metadata
        assert again is not hit


def test_lookup_returns_a_new_list_each_time(cache: BinarySemanticLLMCache) -> None:

    generations = [ChatGeneration(message=AIMessage("stored"))]
    cache.update("prompt", "llm", generations)
    first, second = cache.lookup("prompt", "llm"), cache.lookup("prompt", "llm")
    assert first is not None and second is not None
    assert first is not second and first[0] is not second[0] and first[0] is not generations[0]


def test_tool_calls_and_usage_survive_a_hit(cache: BinarySemanticLLMCache) -> None:
    reply = AIMessage(
        "",
        tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1"}],
        usage_metadata={"input_tokens": 20, "output_tokens": 8, "total_tokens": 28},
        response_metadata={"model_name": "fake-model"},
    )
    model = ToolFakeChatModel(messages=numbered_answers(lambda _: reply), cache=cache)
    bound = model.bind_tools([get_weather])
    bound.invoke(ask("What's the weather in Paris?"))
    hit = bound.invoke(ask("What is the weather like in Paris?"))
    assert hit.response_metadata["cache_hit"] is True
    assert hit.tool_calls == [
        {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1", "type": "tool_call"}
    ]
    assert hit.usage_metadata is not None and hit.usage_metadata["input_tokens"] == 20
    stats = cache.stats()
    assert (stats.input_tokens_saved, stats.output_tokens_saved) == (20, 8)


class Capital(BaseModel):
    country: str
    capital: str


def test_with_structured_output_hits(cache: BinarySemanticLLMCache) -> None:
    def reply(i: int) -> AIMessage:
        args = {"country": "France", "capital": f"Paris #{i}"}
        return AIMessage("", tool_calls=[{"name": "Capital", "args": args, "id": f"c{i}"}])

    model = ToolFakeChatModel(messages=numbered_answers(reply), cache=cache)
    structured = model.with_structured_output(Capital)
    first = structured.invoke(ask(QUESTION))
    second = structured.invoke(ask(PARAPHRASE))
    assert first == second == Capital(country="France", capital="Paris #0")
    assert cache.stats().semantic_hits == 1


def test_a_chain_hits_on_a_paraphrased_variable(model: ToolFakeChatModel) -> None:
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer briefly."), ("human", "{question}")]
    )
    chain = prompt | model | StrOutputParser()
    assert chain.invoke({"question": "How do I reset my password?"}) == "answer 0"
    assert chain.invoke({"question": "How can I reset my password?"}) == "answer 0"
    assert chain.invoke({"question": "How do I delete my account?"}) == "answer 1"


def test_the_global_cache_serves_every_model(embedder: CountingEmbedder) -> None:
    previous = get_llm_cache()
    set_llm_cache(BinarySemanticLLMCache(embedder))
    try:
        model = ToolFakeChatModel(messages=numbered_answers())
        model.invoke(ask(QUESTION))
        assert model.invoke(ask(PARAPHRASE)).response_metadata["cache_hit"] is True
    finally:
        set_llm_cache(previous)


def test_a_plain_llm_prompt_is_its_own_query(cache: BinarySemanticLLMCache) -> None:
    llm = FakeListLLM(responses=["first", "second"], cache=cache)
    assert llm.invoke("What is the capital of France?") == "first"
    assert llm.invoke("What's the capital city of France?") == "first"
    assert llm.invoke("Explain photosynthesis") == "second"


def test_batch_from_worker_threads(model: ToolFakeChatModel, cache: BinarySemanticLLMCache) -> None:
    questions = [
        "What is the capital of France?",
        "How do I reset my password?",
        "What is the boiling point of water at sea level?",
    ]
    paraphrases = [
        "What's the capital city of France?",
        "How can I reset my password?",
        "At sea level, what is the boiling point of water?",
    ]
    first = model.batch([ask(q) for q in questions], config={"max_concurrency": 3})
    second = model.batch([ask(q) for q in paraphrases + questions], config={"max_concurrency": 3})
    assert [m.content for m in second] == [m.content for m in first] * 2
    assert all(m.response_metadata["cache_hit"] for m in second)
    assert cache.stats().hits == 6


def test_many_threads_share_one_cache(
    model: ToolFakeChatModel, cache: BinarySemanticLLMCache
) -> None:
    model.invoke(ask(QUESTION))
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(
            pool.map(lambda i: model.invoke(ask([QUESTION, PARAPHRASE][i % 2])), range(64))
        )
    assert {r.content for r in replies} == {"answer 0"}
    stats = cache.stats()
    assert (stats.hits, stats.errors) == (64, 0)


@pytest.mark.asyncio
async def test_ainvoke_paraphrase_hits(model: ToolFakeChatModel) -> None:
    first = await model.ainvoke(ask(QUESTION))
    second = await model.ainvoke(ask(PARAPHRASE))
    assert first.content == second.content == "answer 0"
    assert second.response_metadata["cache_tier"] == "semantic"


@pytest.mark.asyncio
async def test_concurrent_async_callers(
    model: ToolFakeChatModel, cache: BinarySemanticLLMCache
) -> None:
    await model.ainvoke(ask(QUESTION))
    replies = await asyncio.gather(
        *(model.ainvoke(ask([QUESTION, PARAPHRASE][i % 2])) for i in range(20))
    )
    assert {r.content for r in replies} == {"answer 0"}
    assert cache.stats().hits == 20


@pytest.mark.asyncio
async def test_async_clear(cache: BinarySemanticLLMCache, model: ToolFakeChatModel) -> None:
    await model.ainvoke(ask(QUESTION))
    await cache.aclear()
    assert (await model.ainvoke(ask(QUESTION))).content == "answer 1"


def test_clear_by_llm_string_keeps_other_models(cache: BinarySemanticLLMCache) -> None:
    answers = numbered_answers()
    small = ToolFakeChatModel(messages=answers, cache=cache, model_name="small")
    large = ToolFakeChatModel(messages=answers, cache=cache, model_name="large")
    small.invoke(ask(QUESTION))
    large.invoke(ask(QUESTION))
    cache.clear(llm_string=small._get_llm_string())
    assert small.invoke(ask(PARAPHRASE)).content == "answer 2"
    assert large.invoke(ask(QUESTION)).content == "answer 1"
    assert large.invoke(ask(PARAPHRASE)).content == "answer 1"


def test_clear_by_namespace(embedder: CountingEmbedder) -> None:
    cache = BinarySemanticLLMCache(embedder, namespace="tenant-a")
    model = ToolFakeChatModel(messages=numbered_answers(), cache=cache)
    model.invoke(ask(QUESTION))
    cache.clear(namespace="tenant-b")
    assert model.invoke(ask(QUESTION)).content == "answer 0"
    cache.clear(namespace="tenant-a")
    assert model.invoke(ask(PARAPHRASE)).content == "answer 1"


def test_clear_rejects_unknown_arguments(cache: BinarySemanticLLMCache) -> None:
    with pytest.raises(TypeError, match="llm_string= and namespace="):
        cache.clear(model="x")


def test_answers_expire(embedder: CountingEmbedder) -> None:

    cache = BinarySemanticLLMCache(embedder, ttl_seconds=0.2)
    model = ToolFakeChatModel(messages=numbered_answers(), cache=cache)
    model.invoke(ask(QUESTION))
    assert model.invoke(ask(QUESTION)).content == "answer 0"
    time.sleep(0.3)
    assert model.invoke(ask(QUESTION)).content == "answer 1"
    assert model.invoke(ask(PARAPHRASE)).content == "answer 1"


def test_llm_string_is_never_stored(cache: BinarySemanticLLMCache) -> None:

    secret_llm_string = "base_url=https://internal.example api_key=sk-SECRET-123"
    cache.update(QUESTION, secret_llm_string, [Generation(text="Paris")])
    vector = cache._engine._embedder.embed([QUESTION])[0]
    (entry,) = cache._engine.exact_tier._items.values()
    assert "sk-SECRET" not in entry.partition
    stored = cache._engine.core.search(vector, k=10, partition=entry.partition)
    assert stored and all("sk-SECRET" not in hit.response for hit in stored)
    assert "sk-SECRET" not in repr(list(cache._engine.exact_tier._items.values()))


def test_cost_saved_uses_the_price_table(embedder: CountingEmbedder) -> None:

    cache = BinarySemanticLLMCache(embedder, prices={"priced": ModelPrice(1.0, 4.0)})
    reply = AIMessage(
        "Paris",
        usage_metadata={"input_tokens": 1000, "output_tokens": 500, "total_tokens": 1500},
        response_metadata={"model_name": "priced"},
    )
    model = ToolFakeChatModel(messages=numbered_answers(lambda _: reply), cache=cache)
    for question in (QUESTION, QUESTION, PARAPHRASE):
        model.invoke(ask(question))
    stats = cache.stats()
    assert stats.model_calls_saved == 2
    assert stats.priced_hits == 2
    assert stats.cost_saved == pytest.approx(2 * (1000 * 1.0 + 500 * 4.0) / 1e6)


def test_rescoring_keeps_paraphrases_hitting(embedder: CountingEmbedder) -> None:
    cache = BinarySemanticLLMCache(embedder, rescore=True)
    model = ToolFakeChatModel(messages=numbered_answers(), cache=cache)
    model.invoke(ask(QUESTION))
    assert model.invoke(ask(PARAPHRASE)).content == "answer 0"
    assert model.invoke(ask("What is the capital of Spain?")).content == "answer 1"
