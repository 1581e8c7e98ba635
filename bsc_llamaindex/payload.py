"""Stored answers' fields (JSON, never pickle), and the fresh responses a hit is rebuilt into.

A stored answer keeps the final message (or completion text), the response's
``additional_kwargs`` and, when it was streamed, the deltas in the order they came, so a hit
replayed as a stream yields the same pieces as the original. Answers that were not streamed
are replayed word by word.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, CompletionResponse
from pydantic_core import to_jsonable_python

from binary_semantic_cache._adapter import word_pieces

__all__ = [
    "StoredAnswer",
    "chat_chunks",
    "chat_fields",
    "chat_response",
    "completion_chunks",
    "completion_fields",
    "completion_response",
    "load_answer",
]


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """One answer read back from the cache."""

    message: ChatMessage | None
    text: str
    additional_kwargs: dict[str, Any]
    deltas: list[str] | None


def chat_fields(response: ChatResponse, deltas: Sequence[str] | None) -> dict[str, Any]:
    """A chat answer's part of the stored payload; raises when its extra fields are not JSON."""
    return {
        "m": response.message.model_dump(mode="json"),
        "ak": to_jsonable_python(response.additional_kwargs),
        "d": None if deltas is None else list(deltas),
    }


def completion_fields(response: CompletionResponse, deltas: Sequence[str] | None) -> dict[str, Any]:
    """A completion's part of the stored payload; raises when its extra fields are not JSON."""
    return {
        "t": response.text,
        "ak": to_jsonable_python(response.additional_kwargs),
        "d": None if deltas is None else list(deltas),
    }


def load_answer(fields: Mapping[str, Any]) -> StoredAnswer:
    """Read a stored answer back from its payload's fields."""
    message = None if fields.get("m") is None else ChatMessage.model_validate(fields["m"])
    text = str(message.content or "") if message is not None else str(fields["t"])
    return StoredAnswer(message, text, dict(fields["ak"]), fields["d"])


def _pieces(answer: StoredAnswer) -> list[str]:
    if answer.deltas:
        return answer.deltas
    return word_pieces(answer.text)


def chat_response(answer: StoredAnswer, marks: dict[str, Any]) -> ChatResponse:
    """A new ChatResponse for a hit; ``marks`` go into the response's ``additional_kwargs``.

    The message itself is left as it was stored: chat engines keep it in their history, and
    extra keys there would change the next prompt.
    """
    message = answer.message if answer.message is not None else ChatMessage(content=answer.text)
    return ChatResponse(
        message=message.model_copy(deep=True),
        additional_kwargs={**answer.additional_kwargs, **marks},
    )


def chat_chunks(answer: StoredAnswer, marks: dict[str, Any]) -> list[ChatResponse]:
    """The stream a hit replays: cumulative messages, the last one the full stored message."""
    pieces = _pieces(answer)
    final = chat_response(answer, marks)
    role = final.message.role
    chunks: list[ChatResponse] = []
    seen = ""
    for piece in pieces[:-1]:
        seen += piece
        chunks.append(
            ChatResponse(
                message=ChatMessage(role=role, content=seen), delta=piece, additional_kwargs=marks
            )
        )
    chunks.append(final.model_copy(update={"delta": pieces[-1]}))
    return chunks


def completion_response(answer: StoredAnswer, marks: dict[str, Any]) -> CompletionResponse:
    """A new CompletionResponse for a hit, ``marks`` in its ``additional_kwargs``."""
    return CompletionResponse(
        text=answer.text, additional_kwargs={**answer.additional_kwargs, **marks}
    )


def completion_chunks(answer: StoredAnswer, marks: dict[str, Any]) -> list[CompletionResponse]:
    """The stream a hit replays: cumulative text, the last chunk the full stored answer."""
    pieces = _pieces(answer)
    chunks: list[CompletionResponse] = []
    seen = ""
    for piece in pieces[:-1]:
        seen += piece
        chunks.append(CompletionResponse(text=seen, delta=piece, additional_kwargs=marks))
    chunks.append(completion_response(answer, marks).model_copy(update={"delta": pieces[-1]}))
    return chunks
