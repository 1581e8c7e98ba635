"""BinarySemanticLLM: every call form, events, partition inputs, failures and bad arguments."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ImageBlock,
    MessageRole,
    TextBlock,
)
from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.llm import (
    LLMChatEndEvent,
    LLMChatStartEvent,
    LLMCompletionStartEvent,
)
from llama_index.core.llms import MockLLM
from llama_index.core.output_parsers import PydanticOutputParser
from llama_index.core.prompts import PromptTemplate
from llama_index.core.types import PydanticProgramMode
from pydantic import BaseModel, Field

from binary_semantic_cache.embeddings import DefaultEmbedder, OllamaEmbedder
from bsc_llamaindex import BinarySemanticLLM, BSCEmbedding
from tests.doubles import BrokenEmbedder
from tests.embeddings.http_server import EmbeddingServer
from tests.llamaindex.conftest import CountingLLM, ToolCallingLLM

Q1 = "What is the capital of France?"
Q2 = "Which city is the capital of France?"


def user(text: str) -> list[ChatMessage]:
    return [ChatMessage(role="system", content="Be brief."), ChatMessage(content=text)]


@pytest.fixture
def inner() -> CountingLLM:
    return CountingLLM()


@pytest.fixture
def llm(inner: CountingLLM, embedder: DefaultEmbedder) -> BinarySemanticLLM:
    return BinarySemanticLLM(inner, embedder)


def test_complete_and_chat_hit_on_paraphrases(llm: BinarySemanticLLM, inner: CountingLLM) -> None:
    first = llm.complete(Q1)
    again = llm.complete(Q2)
    assert again.text == first.text
    assert again.additional_kwargs["cache_hit"] is True
    assert again.additional_kwargs["cache_tier"] == "semantic"
    assert again.additional_kwargs["usage"] == 7  # the stored response's extra fields
    chat = llm.chat(user(Q1))
    assert llm.chat(user(Q2)).message.content == chat.message.content
    assert llm.chat(user(Q1)).additional_kwargs["cache_tier"] == "exact"
    assert inner.calls == 2  # chat and complete are cached apart
    stats = llm.stats()
    assert (stats.hits, stats.exact_hits, stats.misses, stats.model_calls) == (3, 1, 2, 2)


def test_streams_record_and_replay_the_same_pieces(
    llm: BinarySemanticLLM, inner: CountingLLM
) -> None:
    original = [c.delta or "" for c in llm.stream_complete(Q1)]
    replayed = list(llm.stream_complete(Q2))
    assert [c.delta or "" for c in replayed] == original
    assert replayed[-1].text == "".join(original)
    assert llm.complete(Q1).text == "".join(original)  # a streamed answer serves a plain call
    chat = llm.chat(user(Q1))
    streamed = list(llm.stream_chat(user(Q2)))  # a plain answer replayed as a stream
    assert len(streamed) > 1
    assert "".join(c.delta or "" for c in streamed) == chat.message.content
    assert streamed[-1].message.content == chat.message.content
    assert inner.calls == 2


def test_an_abandoned_stream_is_not_stored(llm: BinarySemanticLLM, inner: CountingLLM) -> None:
    stream = llm.stream_complete(Q1)
    next(stream)
    stream.close()
    llm.complete(Q1)
    assert inner.calls == 2
    assert llm.stats().writes == 1


def test_async_call_forms(llm: BinarySemanticLLM, inner: CountingLLM) -> None:
    async def go() -> None:
        first = await llm.acomplete(Q1)
        assert (await llm.acomplete(Q2)).text == first.text
        chat = await llm.achat(user(Q1))
        assert (await llm.achat(user(Q2))).message.content == chat.message.content
        pieces = [c.delta async for c in await llm.astream_complete("Tell me about Leeds.")]
        replay = [c.delta async for c in await llm.astream_complete("Tell me about Leeds.")]
        assert replay == pieces
        chunks = [c async for c in await llm.astream_chat(user("Tell me about Leeds."))]
        again = [c async for c in await llm.astream_chat(user("Tell me about Leeds."))]
        assert [c.delta for c in again] == [c.delta for c in chunks]

    asyncio.run(go())
    assert inner.calls == 4


class _Recorder(BaseEventHandler):
    events: list[BaseEvent] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "Recorder"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)


def test_events_fire_once_per_call_hit_or_miss(
    llm: BinarySemanticLLM, embedder: DefaultEmbedder
) -> None:
    # A CustomLLM's chat calls its own complete, so chat events are counted on a chat model.
    chat_llm = BinarySemanticLLM(ToolCallingLLM(), embedder)
    recorder = _Recorder()
    dispatcher = get_dispatcher()
    dispatcher.add_event_handler(recorder)
    try:
        chat_llm.chat(user(Q1))
        chat_llm.chat(user(Q2))
        list(chat_llm.stream_chat(user(Q2)))
        llm.complete(Q1)
        llm.complete(Q2)
    finally:
        dispatcher.event_handlers.remove(recorder)

    def count(kind: type[BaseEvent]) -> int:
        return sum(isinstance(e, kind) for e in recorder.events)

    assert count(LLMChatStartEvent) == 3
    assert count(LLMChatEndEvent) == 3
    assert count(LLMCompletionStartEvent) == 2
    ends = [e for e in recorder.events if isinstance(e, LLMChatEndEvent)]
    assert ends[-1].response is not None
    assert ends[-1].response.additional_kwargs["cache_hit"] is True


def test_settings_and_metadata_come_from_the_wrapped_model(embedder: DefaultEmbedder) -> None:
    class Answer(BaseModel):
        text: str

    def to_prompt(messages: Any) -> str:
        return "custom"

    parser = PydanticOutputParser(Answer)
    inner = MockLLM(
        system_prompt="Be kind.",
        messages_to_prompt=to_prompt,
        pydantic_program_mode=PydanticProgramMode.LLM,
    )
    inner.output_parser = parser
    llm = BinarySemanticLLM(inner, embedder)
    assert llm.system_prompt == "Be kind."
    assert llm.messages_to_prompt is to_prompt
    assert llm.completion_to_prompt is inner.completion_to_prompt
    assert llm.output_parser is parser
    assert llm.pydantic_program_mode == PydanticProgramMode.LLM
    assert llm.metadata == inner.metadata
    assert llm.inner_llm is inner
    llm.callback_manager = llm.callback_manager.__class__([])
    assert inner.callback_manager is llm.callback_manager


def test_predict_uses_the_system_prompt_once(embedder: DefaultEmbedder) -> None:
    inner = CountingLLM(system_prompt="Be kind.")
    llm = BinarySemanticLLM(inner, embedder)
    llm.predict(PromptTemplate("Question: {q}"), q=Q1)
    assert inner.prompts == [f"Be kind.\n\nQuestion: {Q1}"]


def test_model_settings_partition_but_secrets_do_not(embedder: DefaultEmbedder) -> None:
    inner = CountingLLM()
    llm = BinarySemanticLLM(inner, embedder)
    llm.complete(Q1)
    inner.api_key = "sk-rotated"
    inner.api_base = "http://127.0.0.1:2"
    llm.complete(Q1)
    assert inner.calls == 1
    inner.temperature = 0.7
    llm.complete(Q1)
    assert inner.calls == 2


def test_call_kwargs_and_tools_partition(embedder: DefaultEmbedder) -> None:
    inner = ToolCallingLLM()
    llm = BinarySemanticLLM(inner, embedder)
    tool = {"type": "function", "function": {"name": "price", "parameters": {}}}
    other = {"type": "function", "function": {"name": "stock", "parameters": {}}}
    llm.chat(user(Q1), tools=[tool])
    llm.chat(user(Q2), tools=[tool])
    assert inner.calls == 1
    llm.chat(user(Q1), tools=[other])
    llm.chat(user(Q1), tools=[tool], response_format={"type": "json_object"})
    llm.chat(user(Q1))
    assert inner.calls == 4


def test_history_and_non_text_blocks_must_match_exactly(
    llm: BinarySemanticLLM, inner: CountingLLM
) -> None:
    history = [ChatMessage(content="Hi"), ChatMessage(role="assistant", content="Hello!")]
    llm.chat([*history, ChatMessage(content=Q1)])
    llm.chat([*history, ChatMessage(content=Q2)])
    assert inner.calls == 1
    llm.chat([ChatMessage(content="Hey"), history[1], ChatMessage(content=Q1)])
    assert inner.calls == 2
    image = ImageBlock(image=b"iVBORw0KGgo=", image_mimetype="image/png")
    llm.chat([ChatMessage(role="user", blocks=[TextBlock(text=Q1), image])])
    llm.chat([ChatMessage(role="user", blocks=[TextBlock(text=Q1)])])
    assert inner.calls == 4


def test_a_tool_result_last_matches_only_exactly(
    llm: BinarySemanticLLM, inner: CountingLLM
) -> None:
    def prompt(result: str) -> list[ChatMessage]:
        return [ChatMessage(content=Q1), ChatMessage(role=MessageRole.TOOL, content=result)]

    llm.chat(prompt("Paris"))
    llm.chat(prompt("Paris"))
    assert inner.calls == 1
    llm.chat(prompt("Paris, France"))
    assert inner.calls == 2
    assert llm.stats().exact_hits == 1


def test_namespaces_do_not_share_answers_and_clear_forgets(embedder: DefaultEmbedder) -> None:
    inner = CountingLLM()
    llm = BinarySemanticLLM(inner, embedder, namespace="tenant-a")
    assert llm.namespace == "tenant-a"
    llm.complete(Q1)
    llm.clear()
    llm.complete(Q1)
    assert inner.calls == 2


def test_a_broken_embedder_turns_into_misses_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    inner = CountingLLM()
    llm = BinarySemanticLLM(inner, BrokenEmbedder())
    with caplog.at_level(logging.DEBUG, logger="bsc_llamaindex"):
        first = llm.complete(Q1)
        llm.complete(Q1)
        list(llm.stream_complete(Q1))
        asyncio.run(llm.achat(user(Q1)))
    assert first.text.startswith("answer 0")
    assert inner.calls == 4
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    # Nothing could be stored, so every lookup finds an unseen context and embeds nothing:
    # the failures are the writes', logged once.
    assert len(warnings) == 1
    assert "write failed with ConnectionError" in warnings[0].getMessage()
    stats = llm.stats()
    assert (stats.errors, stats.skipped_writes, stats.misses, stats.hits) == (4, 4, 4, 0)


def test_an_answer_json_cannot_hold_is_served_and_skipped(embedder: DefaultEmbedder) -> None:
    class Odd(CountingLLM):
        def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
            response = super().complete(prompt, formatted=formatted, **kwargs)
            response.additional_kwargs["raw"] = object()
            return response

    odd = BinarySemanticLLM(Odd(), embedder)
    assert odd.complete(Q1).text.startswith("answer 0")
    assert odd.stats().skipped_writes == 1


def test_bad_arguments_raise_clear_errors(embedder: DefaultEmbedder) -> None:
    with pytest.raises(TypeError, match="wraps a LlamaIndex LLM"):
        BinarySemanticLLM(BSCEmbedding(embedder))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="already a BinarySemanticLLM"):
        BinarySemanticLLM(BinarySemanticLLM(MockLLM(), embedder), embedder)
    with pytest.raises(ValueError, match="similarity_threshold"):
        BinarySemanticLLM(MockLLM(), embedder, similarity_threshold=1.5)
    with pytest.raises(ValueError, match="max_entries"):
        BinarySemanticLLM(MockLLM(), embedder, max_entries=0)
    with pytest.raises(TypeError, match="namespace"):
        BinarySemanticLLM(MockLLM(), embedder, namespace=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Embedder"):
        BinarySemanticLLM(MockLLM(), embedding="MiniLM")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="query_str"):
        BinarySemanticLLM(MockLLM(), embedder, query_templates=["Context: {context_str}"])
    with pytest.raises(NotImplementedError, match="not a FunctionCallingLLM"):
        BinarySemanticLLM(MockLLM(), embedder).get_tool_calls_from_response(
            ChatResponse(message=ChatMessage(role="assistant", content="hi"))
        )


# Past the default embedder's 256 tokens: only this shared start would be embedded.
LONG_CONTEXT = " ".join(
    f"Product line {i} comes with a two year warranty on parts and labour." for i in range(30)
)


def test_questions_past_the_embedders_window_are_matched_exactly(
    embedder: DefaultEmbedder,
) -> None:
    how_long = f"{LONG_CONTEXT}\nQuestion: How long is the warranty?"
    water = f"{LONG_CONTEXT}\nQuestion: Does the warranty cover water damage?"
    inner = CountingLLM()
    llm = BinarySemanticLLM(inner, embedder)
    first = llm.complete(how_long).text
    assert llm.complete(water).text != first
    assert llm.complete(how_long).text == first
    assert inner.calls == 2
    assert llm.stats().semantic_hits == 0


@pytest.mark.parametrize("status", [400, 500])  # Ollama versions differ
def test_questions_the_server_refuses_as_too_long_are_matched_exactly(
    tmp_path: Path, status: int
) -> None:
    server = EmbeddingServer()
    server.context_words, server.context_status = 40, status
    how_long = f"{LONG_CONTEXT}\nQuestion: How long is the warranty?"
    water = f"{LONG_CONTEXT}\nQuestion: Does the warranty cover water damage?"
    try:
        inner = CountingLLM()
        embedder = OllamaEmbedder("all-minilm", base_url=server.url, dim=server.dim)
        with BinarySemanticLLM(inner, embedder, path=tmp_path) as llm:
            first = llm.complete(how_long).text
            assert llm.complete(water).text != first
            assert llm.complete(how_long).text == first
            assert asyncio.run(llm.acomplete(water)).text != first
            stats = llm.stats()
            assert (inner.calls, stats.exact_hits) == (2, 2)
            assert (stats.errors, stats.skipped_writes) == (0, 0)
            assert len(server.seen) == 2  # one refusal per new question, none retried
        with BinarySemanticLLM(CountingLLM(), embedder, path=tmp_path) as again:
            assert again.complete(how_long).text == first  # from disk, without the server
            assert len(server.seen) == 2
    finally:
        server.close()
