"""Generations to JSON and back, through ``langchain_core.load`` with an explicit allow-list.

No pickle: a cache file or a shared Redis must never be able to run code in the reader.
``loads`` revives only the classes listed here, and never reads secrets from the environment.
"""

from __future__ import annotations

import copy
import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from langchain_core.language_models.chat_models import generate_from_stream
from langchain_core.load import dumps, loads
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, Generation, GenerationChunk

from binary_semantic_cache._adapter import word_pieces

M = TypeVar("M", bound=BaseMessage)

__all__ = [
    "ALLOWED_OBJECTS",
    "StoredAnswer",
    "dump_generations",
    "fresh_generations",
    "load_answer",
    "load_generations",
    "replay_chunks",
    "stream_fields",
    "without_run_ids",
]

#: The only classes a stored payload may revive: what a chat model or an LLM returns.
ALLOWED_OBJECTS: tuple[type[Any], ...] = (
    Generation,
    GenerationChunk,
    ChatGeneration,
    ChatGenerationChunk,
    AIMessage,
    AIMessageChunk,
)


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """One answer read back: its generations, and the chunks it streamed in (if it streamed)."""

    generations: list[Generation]
    chunks: list[Generation] | None


def load_answer(fields: Mapping[str, Any]) -> StoredAnswer:
    """Read an answer back from its payload's fields (``g``: generations, ``c``: chunks)."""
    chunks = fields.get("c")
    return StoredAnswer(
        load_generations(fields["g"]), None if chunks is None else load_generations(chunks)
    )


def dump_generations(generations: Sequence[Generation]) -> str:
    """Serialise generations to a JSON string that :func:`load_generations` reads back."""
    return dumps(list(generations))


def load_generations(payload: str) -> list[Generation]:
    """Revive generations stored by :func:`dump_generations`.

    Raises:
        ValueError: the payload is not a JSON list of allowed generation objects.
    """
    with warnings.catch_warnings():
        # `loads` is marked beta; the warning would repeat on every semantic hit.
        warnings.simplefilter("ignore")
        value = loads(payload, allowed_objects=list(ALLOWED_OBJECTS))
    if not isinstance(value, list) or not all(isinstance(g, Generation) for g in value):
        msg = f"expected a JSON list of generations, got {type(value).__name__}"
        raise ValueError(msg)
    return value


def fresh_generations(templates: Sequence[Generation], marks: dict[str, Any]) -> list[Generation]:
    """Return new generation objects built from stored ones, marked as cache hits (``marks``).

    A caller that mutates a hit (LangChain itself rewrites ``usage_metadata`` on hits) must not
    change what the next hit returns, so nothing here shares a mutable object with the templates.
    The message id is reset because it named the run that produced the answer.
    """
    out: list[Generation] = []
    for template in templates:
        if isinstance(template, ChatGeneration):
            message = _copied(template.message)
            message.id = None
            message.response_metadata = {**message.response_metadata, **marks}
            out.append(
                type(template)(
                    message=message, generation_info=_tree_copy(template.generation_info)
                )
            )
        else:
            # A plain Generation has no message metadata to mark; it is returned as stored.
            out.append(template.model_copy(deep=True))
    return out


def _copied(message: M) -> M:
    """A copy of a decoded message that shares no container with it."""
    copied = message.model_copy()  # shallow: its containers are copied next
    fields = copied.__dict__
    for name, value in fields.items():
        if isinstance(value, (dict, list)):
            fields[name] = _tree_copy(value)
    return copied


def _tree_copy(value: Any) -> Any:
    """A deep copy of decoded JSON (dicts, lists, scalars) at a third of ``copy.deepcopy``'s
    cost, which every hit pays; anything else is handed to ``copy.deepcopy``."""
    if isinstance(value, dict):
        return {key: _tree_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_tree_copy(item) for item in value]
    if value is None or isinstance(value, (str, int, float)):
        return value  # immutable (bool is an int)
    return copy.deepcopy(value)


def without_run_ids(generations: Sequence[Generation]) -> list[Generation]:
    """Copies without the id of the run that produced each message: it is not the answer."""
    out: list[Generation] = []
    for generation in generations:
        message = getattr(generation, "message", None)
        if message is not None and message.id is not None:
            generation = generation.model_copy(
                update={"message": message.model_copy(update={"id": None})}
            )
        out.append(generation)
    return out


def stream_fields(chunks: Sequence[ChatGenerationChunk]) -> dict[str, str]:
    """A streamed answer's payload fields: its merged generation, as ``invoke`` would have
    stored it, and its chunks, so a streamed hit replays them as they came."""
    result = generate_from_stream(iter(chunks))
    recorded = [
        ChatGenerationChunk(
            message=chunk.message.model_copy(update={"id": None}),
            generation_info=chunk.generation_info,
        )
        for chunk in chunks
    ]
    return {
        "g": dump_generations(without_run_ids(result.generations)),
        "c": dump_generations(recorded),
    }


def replay_chunks(answer: StoredAnswer, marks: dict[str, Any]) -> list[ChatGenerationChunk]:
    """The chunks a streamed hit yields: the recorded ones, or, for an answer that was not
    streamed, its text word by word, then its tool calls, usage and metadata.

    Only the first chunk carries ``marks``: LangChain concatenates string metadata when it
    adds chunks up, so a mark on every chunk would repeat in the merged message.
    """
    if answer.chunks is not None:
        chunks = [
            ChatGenerationChunk(
                message=_copied(c.message), generation_info=_tree_copy(c.generation_info)
            )
            for c in answer.chunks
            if isinstance(c, ChatGenerationChunk)
        ]
    else:
        chunks = _chunks_of(answer.generations[0])
    first = chunks[0].message
    first.response_metadata = {**first.response_metadata, **marks}
    return chunks


def _chunks_of(generation: Generation) -> list[ChatGenerationChunk]:
    if not isinstance(generation, ChatGeneration):
        return [ChatGenerationChunk(message=AIMessageChunk(content=generation.text))]
    message = generation.message
    content = message.content
    pieces = word_pieces(content) if isinstance(content, str) else []
    chunks = [ChatGenerationChunk(message=AIMessageChunk(content=p)) for p in pieces[:-1]]
    tool_calls = getattr(message, "tool_calls", None) or []
    last = AIMessageChunk(
        content=pieces[-1] if pieces else content,
        tool_call_chunks=[
            tool_call_chunk(
                name=call["name"], args=json.dumps(call["args"]), id=call.get("id"), index=i
            )
            for i, call in enumerate(tool_calls)
        ],
        usage_metadata=getattr(message, "usage_metadata", None),
        response_metadata=_tree_copy(message.response_metadata),
        additional_kwargs=_tree_copy(message.additional_kwargs),
    )
    generation_info = _tree_copy(generation.generation_info)
    return [*chunks, ChatGenerationChunk(message=last, generation_info=generation_info)]
