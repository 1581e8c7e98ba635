"""Generations through JSON: what survives, and what the allow-list refuses."""

from __future__ import annotations

import json

import pytest
from langchain_core.load import dumps
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, Generation
from langchain_core.prompts import ChatPromptTemplate

from bsc_langchain.serialize import (
    StoredAnswer,
    dump_generations,
    fresh_generations,
    load_answer,
    load_generations,
    replay_chunks,
    stream_fields,
)


def rich_generation() -> ChatGeneration:
    message = AIMessage(
        content=[{"type": "text", "text": "Calling the tool."}],
        tool_calls=[{"name": "lookup", "args": {"city": "Paris", "days": 3}, "id": "call_1"}],
        usage_metadata={"input_tokens": 12, "output_tokens": 5, "total_tokens": 17},
        response_metadata={"model_name": "fake-model", "finish_reason": "tool_calls"},
        additional_kwargs={"parsed": {"nested": [1, 2, {"lc": "user data"}]}},
    )
    return ChatGeneration(message=message, generation_info={"finish_reason": "tool_calls"})


def test_tool_calls_usage_and_structured_content_survive() -> None:
    original = [rich_generation(), Generation(text="plain", generation_info={"k": 1})]
    assert load_generations(dump_generations(original)) == original


def test_a_user_dict_with_an_lc_key_stays_data() -> None:
    (revived,) = load_generations(dump_generations([rich_generation()]))
    assert isinstance(revived, ChatGeneration)
    assert revived.message.additional_kwargs["parsed"]["nested"][2] == {"lc": "user data"}


def test_classes_outside_the_allow_list_are_refused() -> None:
    for payload in (
        dumps([ChatPromptTemplate.from_messages([("human", "{q}")])]),
        dumps([HumanMessage("not a model output")]),
    ):
        with pytest.raises(ValueError):
            load_generations(payload)


def test_secrets_are_never_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BSC_TEST_SECRET", "s3cret")
    payload = json.dumps(
        [
            {
                "lc": 1,
                "type": "constructor",
                "id": ["langchain", "schema", "output", "Generation"],
                "kwargs": {
                    "text": "t",
                    "generation_info": {
                        "k": {"lc": 1, "type": "secret", "id": ["BSC_TEST_SECRET"]}
                    },
                },
            }
        ]
    )
    (revived,) = load_generations(payload)
    assert "s3cret" not in repr(revived)


def test_fresh_generations_share_nothing_with_the_templates() -> None:
    template = [rich_generation()]
    first, second = (
        fresh_generations(template, {"cache_hit": True, "cache_similarity": 0.9}),
        fresh_generations(template, {"cache_hit": True, "cache_similarity": 0.9}),
    )
    assert first is not second and first[0] is not second[0]
    first_message = first[0].message  # type: ignore[attr-defined]
    first_message.tool_calls[0]["args"]["city"] = "Lyon"
    first_message.response_metadata["mutated"] = True
    first_message.usage_metadata["output_tokens"] = 0
    first_message.content[0]["text"] = "changed"
    first_message.additional_kwargs["parsed"]["nested"][2]["lc"] = "changed"
    first[0].generation_info["finish_reason"] = "changed"  # type: ignore[index]
    second_message = second[0].message  # type: ignore[attr-defined]
    assert second_message.usage_metadata["output_tokens"] == 5
    assert second_message.content[0]["text"] == "Calling the tool."
    assert second_message.additional_kwargs["parsed"]["nested"][2] == {"lc": "user data"}
    assert second[0].generation_info == {"finish_reason": "tool_calls"}
    assert second_message == template[0].message.model_copy(
        update={"id": None, "response_metadata": second_message.response_metadata}
    )
    assert second_message.tool_calls[0]["args"]["city"] == "Paris"
    assert "mutated" not in second_message.response_metadata
    assert template[0].message.response_metadata.get("cache_hit") is None
    assert second_message.response_metadata["cache_hit"] is True
    assert second_message.response_metadata["cache_similarity"] == 0.9


def test_replayed_chunks_share_nothing_with_the_stored_ones() -> None:
    recorded = [
        ChatGenerationChunk(message=AIMessageChunk(content="Hello ")),
        ChatGenerationChunk(
            message=AIMessageChunk(content="there.", response_metadata={"finish": {"why": "stop"}}),
            generation_info={"nested": [1, {"k": "v"}]},
        ),
    ]
    answer = load_answer(stream_fields(recorded))
    assert isinstance(answer, StoredAnswer) and answer.chunks is not None
    first, second = replay_chunks(answer, {"cache_hit": True}), replay_chunks(answer, {})
    first[1].message.response_metadata["finish"]["why"] = "changed"
    first[1].generation_info["nested"][1]["k"] = "changed"  # type: ignore[index]
    assert second[1].message.response_metadata == {"finish": {"why": "stop"}}
    assert second[1].generation_info == {"nested": [1, {"k": "v"}]}
    assert [c.text for c in second] == ["Hello ", "there."]
    assert first[0].message.response_metadata == {"cache_hit": True}
    assert "cache_hit" not in second[0].message.response_metadata
