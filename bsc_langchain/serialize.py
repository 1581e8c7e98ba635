"""Generations to JSON and back, through ``langchain_core.load`` with an explicit allow-list.

No pickle: a cache file or a shared Redis must never be able to run code in the reader.
``loads`` revives only the classes listed here, and never reads secrets from the environment.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from typing import Any

from langchain_core.load import dumps, loads
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, Generation, GenerationChunk

__all__ = [
    "ALLOWED_OBJECTS",
    "dump_generations",
    "fresh_generations",
    "load_generations",
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
            message = template.message.model_copy(deep=True)
            message.id = None
            message.response_metadata = {**message.response_metadata, **marks}
            out.append(
                type(template)(
                    message=message, generation_info=copy.deepcopy(template.generation_info)
                )
            )
        else:
            # A plain Generation has no message metadata to mark; it is returned as stored.
            out.append(template.model_copy(deep=True))
    return out


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
