"""Chat models' stream() and astream() through the cache, with set_llm_cache only.

The model is langchain-core's own GenericFakeChatModel (it streams word by word), counting
the answers it produces; a subclass streams tool-call chunks as providers do.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.globals import set_llm_cache
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatGenerationChunk
from langchain_core.prompts import ChatPromptTemplate
from pydantic import BaseModel

from bsc_langchain import BinarySemanticLLMCache
from tests.langchain.conftest import CountingEmbedder, ToolFakeChatModel

QUESTION = "What is the capital of France?"
PARAPHRASE = "What's the capital city of France?"
PROMPT = ChatPromptTemplate.from_messages([("system", "Answer briefly."), ("human", "{q}")])


class Answers:
    """An endless supply of numbered answers, counting how many the model took."""

    def __init__(self) -> None:
        self.taken = 0

    def __iter__(self) -> Iterator[AIMessage]:
        for i in itertools.count():
            self.taken += 1
            yield AIMessage(f"answer {i}: Paris is the capital of France.")


@pytest.fixture
def global_cache(embedder: CountingEmbedder) -> Iterator[BinarySemanticLLMCache]:
    cache = BinarySemanticLLMCache(embedder)
    set_llm_cache(cache)
    yield cache
    set_llm_cache(None)


@pytest.fixture
def answers() -> Answers:
    return Answers()


@pytest.fixture
def chain(answers: Answers) -> Any:
    return PROMPT | GenericFakeChatModel(messages=iter(answers)) | StrOutputParser()


@pytest.mark.usefixtures("global_cache")
def test_stream_repeat_and_paraphrase_make_no_model_call(chain: Any, answers: Answers) -> None:
    first = list(chain.stream({"q": QUESTION}))
    assert answers.taken == 1 and len(first) > 1
    for question in (QUESTION, PARAPHRASE):
        again = list(chain.stream({"q": question}))
        assert again == first, question  # the same chunks, not one block
    assert answers.taken == 1


def test_astream_and_astream_events_replay(
    chain: Any, answers: Answers, global_cache: BinarySemanticLLMCache
) -> None:
    async def run() -> tuple[list[str], list[str], list[dict[str, Any]]]:
        first = [c async for c in chain.astream({"q": QUESTION})]
        again = [c async for c in chain.astream({"q": PARAPHRASE})]
        events = [e async for e in chain.astream_events({"q": QUESTION}, version="v2")]
        return first, again, events

    first, again, events = asyncio.run(run())
    assert answers.taken == 1
    assert again == first and len(first) > 1
    streamed = [e["data"]["chunk"] for e in events if e["event"] == "on_chat_model_stream"]
    assert len(streamed) > 1
    assert "".join(str(c.content) for c in streamed) == "".join(first)
    assert streamed[0].response_metadata["cache_hit"] is True
    assert global_cache.stats().hits == 2


@pytest.mark.usefixtures("global_cache")
def test_a_streamed_hit_says_it_is_one(answers: Answers) -> None:
    model = GenericFakeChatModel(messages=iter(answers))
    list(model.stream(QUESTION))
    chunks = list(model.stream(PARAPHRASE))
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert merged.response_metadata["cache_hit"] is True
    assert merged.response_metadata["cache_tier"] == "semantic"
    assert isinstance(merged.response_metadata["cache_similarity"], float)  # not concatenated


@pytest.mark.usefixtures("global_cache")
def test_an_interrupted_stream_stores_nothing(answers: Answers) -> None:
    model = GenericFakeChatModel(messages=iter(answers))
    stream = model.stream(QUESTION)
    next(stream)
    stream.close()  # the consumer stopped early
    list(model.stream(QUESTION))
    assert answers.taken == 2

    async def stop_early() -> None:
        stream = model.astream("Where is the Eiffel Tower?")
        await anext(stream)
        await stream.aclose()

    asyncio.run(stop_early())
    list(model.stream("Where is the Eiffel Tower?"))
    assert answers.taken == 4


@pytest.mark.usefixtures("global_cache")
def test_a_chain_reads_the_model_to_its_end_and_that_answer_is_stored(
    chain: Any, answers: Answers
) -> None:
    # LangChain itself reads a chain's model stream to its end when the consumer stops (its
    # tracing keeps the whole input of the next step): the answer is complete, so it is kept.
    stream = chain.stream({"q": QUESTION})
    next(stream)
    stream.close()
    assert "".join(chain.stream({"q": QUESTION})).startswith("answer 0")
    assert answers.taken == 1


def test_a_failing_stream_stores_nothing(global_cache: BinarySemanticLLMCache) -> None:
    class Breaks(GenericFakeChatModel):
        def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
            yield ChatGenerationChunk(message=AIMessageChunk(content="half "))
            raise ConnectionError("the provider hung up")

    with pytest.raises(ConnectionError):
        list(Breaks(messages=iter(Answers())).stream(QUESTION))
    assert global_cache.stats().writes == 0


@pytest.mark.usefixtures("global_cache")
def test_stream_and_invoke_share_answers(answers: Answers) -> None:
    model = GenericFakeChatModel(messages=iter(answers))
    invoked = model.invoke(QUESTION).content
    streamed = list(model.stream(QUESTION))
    assert "".join(str(c.content) for c in streamed) == invoked
    assert len(streamed) > 1  # an answer that was not streamed is replayed word by word
    streamed_first = list(model.stream("Where is the Eiffel Tower?"))
    assert model.invoke("Where is the Eiffel Tower?").content == "".join(
        str(c.content) for c in streamed_first
    )
    assert answers.taken == 2


def test_a_model_s_own_cache_is_used_and_cache_false_is_left_alone(
    embedder: CountingEmbedder, answers: Answers
) -> None:
    own = BinarySemanticLLMCache(embedder)
    model = GenericFakeChatModel(messages=iter(answers), cache=own)
    list(model.stream(QUESTION))
    list(model.stream(QUESTION))
    assert (answers.taken, own.stats().hits) == (1, 1)
    uncached = GenericFakeChatModel(messages=iter(answers), cache=False)
    list(uncached.stream(QUESTION))
    assert answers.taken == 2


class Weather(BaseModel):
    """The weather in a city."""

    city: str
    celsius: int


class StreamingTools(ToolFakeChatModel):
    """Streams each tool call in pieces, as providers do."""

    def _stream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        message = next(self.messages)
        for index, call in enumerate(message.tool_calls):  # type: ignore[attr-defined]
            args = json.dumps(call["args"])
            for i, part in enumerate((args[:9], args[9:])):
                chunk = AIMessageChunk(
                    content="",
                    tool_call_chunks=[
                        {
                            "name": call["name"] if i == 0 else None,
                            "args": part,
                            "id": call["id"] if i == 0 else None,
                            "index": index,
                            "type": "tool_call_chunk",
                        }
                    ],
                )
                yield ChatGenerationChunk(message=chunk)


def weather_calls(count: itertools.count) -> Iterator[AIMessage]:
    for i in count:
        yield AIMessage(
            "",
            tool_calls=[
                {"name": "Weather", "args": {"city": "Paris", "celsius": i}, "id": f"c{i}"}
            ],
        )


@pytest.mark.usefixtures("global_cache")
def test_tool_call_chunks_and_structured_output_survive_a_replay() -> None:
    calls = itertools.count()
    model = StreamingTools(messages=weather_calls(calls))
    bound = model.bind_tools([Weather])
    first = list(bound.stream("What's the weather in Paris?"))
    again = list(bound.stream("What's the weather in Paris?"))
    assert next(calls) == 1  # one model call
    assert [c.tool_call_chunks for c in again[: len(first) - 1]] == [
        c.tool_call_chunks for c in first[: len(first) - 1]
    ]
    merged = again[0]
    for chunk in again[1:]:
        merged += chunk
    assert merged.tool_calls[0]["args"] == {"city": "Paris", "celsius": 0}

    structured = StreamingTools(messages=weather_calls(itertools.count(5)))
    weather = structured.with_structured_output(Weather)
    parsed = list(weather.stream("Weather in Paris, please"))
    replayed = list(weather.stream("Weather in Paris, please"))
    assert parsed[-1] == replayed[-1] == Weather(city="Paris", celsius=5)
