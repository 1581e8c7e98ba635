"""The frameworks' own observers see a hit as one: LangChain callbacks, LlamaIndex events."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import HumanMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.llm import LLMChatEndEvent
from pydantic import Field

from binary_semantic_cache.embeddings import DefaultEmbedder
from tests.front_doors.conftest import FrontDoor, langchain_model

STORED, PARAPHRASE = "How do I reset my password?", "How can I reset my password?"


class Ends(BaseCallbackHandler):
    def __init__(self) -> None:
        self.results: list[LLMResult] = []

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        self.results.append(response)


def test_langchain_callbacks_see_the_hit_tier_and_similarity(embedder: DefaultEmbedder) -> None:
    door = FrontDoor("langchain", embedder)
    model = langchain_model(door.cache)
    ends = Ends()
    for question in (STORED, STORED, PARAPHRASE):
        model.invoke([HumanMessage(question)], config={"callbacks": [ends]})
    marks = []
    for result in ends.results:
        (generation,) = result.generations[0]
        assert isinstance(generation, ChatGeneration)
        metadata = generation.message.response_metadata
        marks.append((metadata.get("cache_hit"), metadata.get("cache_tier")))
    assert marks == [(None, None), (True, "exact"), (True, "semantic")]
    semantic = ends.results[2].generations[0][0]
    assert isinstance(semantic, ChatGeneration)
    assert 0.9 < semantic.message.response_metadata["cache_similarity"] < 1.0
    door.close()


class ChatEnds(BaseEventHandler):
    events: list[LLMChatEndEvent] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "ChatEnds"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        if isinstance(event, LLMChatEndEvent):
            self.events.append(event)


def test_llamaindex_events_see_the_hit_tier_and_similarity(embedder: DefaultEmbedder) -> None:
    door = FrontDoor("llamaindex", embedder)
    handler = ChatEnds()
    dispatcher = get_dispatcher()
    dispatcher.add_event_handler(handler)
    try:
        for question in (STORED, STORED, PARAPHRASE):
            door.cache.chat([ChatMessage(role="user", content=question)])
    finally:
        dispatcher.event_handlers.remove(handler)
        door.close()
    marks = []
    for event in handler.events:
        assert event.response is not None
        kwargs = event.response.additional_kwargs
        marks.append((kwargs.get("cache_hit"), kwargs.get("cache_tier")))
    # The miss's end event is the wrapped model's own; each hit fires exactly one.
    assert marks == [(None, None), (True, "exact"), (True, "semantic")]
    semantic = handler.events[2].response
    assert semantic is not None and 0.9 < semantic.additional_kwargs["cache_similarity"] < 1.0
