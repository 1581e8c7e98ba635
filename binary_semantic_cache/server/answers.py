"""Stored chat answers: a completion body or a stream's chunks, and each served as the other.

A non-streamed answer is stored as its response body (``{"c": body}``); a streamed one as its
chunks, in the chunking the upstream sent, with the usage of its closing chunk apart
(``{"s": chunks, "u": usage}``). Either serves either kind of request: a stream is merged into
one completion, a completion is cut into chunks of a word. Every served answer gets a fresh
``id`` and ``created``; the stored objects are never handed out themselves.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from binary_semantic_cache.stats import Usage

__all__ = [
    "StoredAnswer",
    "answer_usage",
    "chunk_fields",
    "completion_fields",
    "load_answer",
    "served_chunks",
    "served_completion",
]

_WORD = re.compile(r"\s*\S+\s*")


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """A stored answer: exactly one of ``completion`` and ``chunks`` is set."""

    completion: Mapping[str, Any] | None
    chunks: tuple[Mapping[str, Any], ...]
    usage: Mapping[str, Any] | None


def completion_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """The payload fields of a non-streamed answer."""
    return {"c": dict(body)}


def chunk_fields(chunks: list[dict[str, Any]], usage: Mapping[str, Any] | None) -> dict[str, Any]:
    """The payload fields of a streamed answer (``chunks`` without the usage-only one)."""
    return {"s": chunks, "u": None if usage is None else dict(usage)}


def load_answer(fields: Mapping[str, Any]) -> StoredAnswer:
    """The answer of a stored payload; raises ValueError on one it cannot read."""
    completion, chunks = fields.get("c"), fields.get("s")
    if isinstance(completion, dict) and isinstance(completion.get("choices"), list):
        return StoredAnswer(completion, (), completion.get("usage"))
    if isinstance(chunks, list) and chunks and all(isinstance(c, dict) for c in chunks):
        usage = fields.get("u")
        return StoredAnswer(None, tuple(chunks), usage if isinstance(usage, dict) else None)
    msg = f"expected a stored completion or chunk list, got fields {sorted(fields)}"
    raise ValueError(msg)


def answer_usage(answer: StoredAnswer) -> list[Usage]:
    """The tokens the answer cost when it was made, for the savings in stats."""
    usage = answer.usage
    if not usage:
        return []
    first = answer.completion if answer.completion is not None else answer.chunks[0]
    model = first.get("model")
    return [
        Usage(
            int(usage.get("prompt_tokens") or 0),
            int(usage.get("completion_tokens") or 0),
            model if isinstance(model, str) else None,
        )
    ]


def served_completion(answer: StoredAnswer) -> dict[str, Any]:
    """The answer as a new ``chat.completion`` body."""
    fresh = _fresh("chatcmpl")
    if answer.completion is not None:
        return {**answer.completion, **fresh}
    head = answer.chunks[0]
    return {
        **fresh,
        "object": "chat.completion",
        "model": head.get("model"),
        "system_fingerprint": head.get("system_fingerprint"),
        "choices": _merged(answer.chunks),
        "usage": None if answer.usage is None else dict(answer.usage),
    }


def served_chunks(answer: StoredAnswer, include_usage: bool) -> Iterator[dict[str, Any]]:
    """The answer as new ``chat.completion.chunk`` objects (one id for all), closing with the
    usage-only chunk when ``include_usage`` was asked for and the usage is known."""
    fresh = _fresh("chatcmpl")
    if answer.completion is not None:
        completion = answer.completion
        head: Mapping[str, Any] = {
            "object": "chat.completion.chunk",
            "model": completion.get("model"),
            "system_fingerprint": completion.get("system_fingerprint"),
        }
        for choice in completion["choices"]:
            for delta, finish in _deltas(choice):
                index = choice.get("index", 0)
                part = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
                yield {**head, **fresh, "choices": [part]}
    else:
        head = answer.chunks[0]
        for chunk in answer.chunks:
            yield {**chunk, **fresh}
    if include_usage and answer.usage is not None:
        closing = {k: head.get(k) for k in ("object", "model", "system_fingerprint")}
        yield {**closing, **fresh, "choices": [], "usage": dict(answer.usage)}


def _fresh(prefix: str) -> dict[str, Any]:
    return {"id": f"{prefix}-{secrets.token_hex(12)}", "created": int(time.time())}


def _deltas(choice: Mapping[str, Any]) -> Iterator[tuple[dict[str, Any], str | None]]:
    """A completion's choice as stream deltas: the role, its text a word at a time, each tool
    call's head then its arguments a word at a time, and the finish reason."""
    message = choice.get("message") or {}
    yield {"role": message.get("role", "assistant"), "content": ""}, None
    for word in _WORD.findall(message.get("content") or ""):
        yield {"content": word}, None
    for position, call in enumerate(message.get("tool_calls") or []):
        function = call.get("function") or {}
        head = {
            "index": position,
            "id": call.get("id"),
            "type": call.get("type"),
            "function": {"name": function.get("name"), "arguments": ""},
        }
        yield {"tool_calls": [head]}, None
        for word in _WORD.findall(function.get("arguments") or ""):
            yield {"tool_calls": [{"index": position, "function": {"arguments": word}}]}, None
    yield {}, choice.get("finish_reason")


def _merged(chunks: tuple[Mapping[str, Any], ...]) -> list[dict[str, Any]]:
    """The choices of a completion made of a stream's deltas."""
    choices: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        for part in chunk.get("choices") or []:
            index = part.get("index", 0)
            choice = choices.setdefault(
                index,
                {
                    "index": index,
                    "message": {"role": "assistant", "content": None},
                    "logprobs": None,
                    "finish_reason": None,
                },
            )
            _apply(choice["message"], part.get("delta") or {})
            if part.get("finish_reason") is not None:
                choice["finish_reason"] = part["finish_reason"]
    return [choices[i] for i in sorted(choices)]


def _apply(message: dict[str, Any], delta: Mapping[str, Any]) -> None:
    if delta.get("role"):
        message["role"] = delta["role"]
    for field in ("content", "refusal"):
        if delta.get(field) is not None:
            message[field] = (message.get(field) or "") + delta[field]
    for call in delta.get("tool_calls") or []:
        calls = message.setdefault("tool_calls", [])
        position = call.get("index", 0)
        while len(calls) <= position:
            calls.append(
                {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
            )
        target = calls[position]
        for field in ("id", "type"):
            if call.get(field):
                target[field] = call[field]
        function = call.get("function") or {}
        for field in ("name", "arguments"):
            if function.get(field):
                target["function"][field] += function[field]
