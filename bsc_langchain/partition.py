"""Split a LangChain cache prompt into the part matched exactly and the part matched by meaning.

LangChain hands a cache either a plain LLM prompt or the JSON of a chat model's message list
(``langchain_core.load.dumps`` of the messages). Everything that can change the right answer
(system prompt, history, tool calls and results, images) must match exactly; only the text of
the last human turn may match semantically. The messages are read as plain JSON and never
revived, so a prompt can never instantiate anything.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

__all__ = [
    "PromptParts",
    "hash_llm_string",
    "partition_id",
    "partition_prefix",
    "split_prompt",
]

_MESSAGE_ID_PREFIX = ["langchain", "schema", "messages"]
_HUMAN_TYPES = frozenset({"HumanMessage", "HumanMessageChunk"})


@dataclass(frozen=True, slots=True)
class PromptParts:
    """A prompt split for lookup.

    ``context`` is a canonical string of everything that must match exactly; ``query`` is the
    text that may match semantically, or ``None`` when the prompt may only match exactly (the
    last message is not a human turn, or it carries no text).
    """

    context: str
    query: str | None


def hash_llm_string(llm_string: str) -> str:
    """Return the hex SHA-256 of ``llm_string``; the only form of it the cache keeps.

    ``llm_string`` can hold base URLs, headers and other configuration that must not be stored.
    """
    return hashlib.sha256(llm_string.encode("utf-8", "surrogatepass")).hexdigest()


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def partition_prefix(namespace: str, llm_hash: str | None = None) -> str:
    """Return the prefix every partition of ``namespace`` (and of one ``llm_string``) starts with.

    ``core.clear_prefix(partition_prefix(...))`` forgets them all, and nothing else.
    """
    prefix = _digest(namespace) + "/"
    return prefix if llm_hash is None else prefix + _digest(llm_hash) + "/"


def partition_id(namespace: str, llm_hash: str, model_id: str, context: str) -> str:
    """Return the core partition for a context: ``digest/digest/digest/digest``.

    One fixed-length digest per component, outermost first (namespace, ``llm_string`` hash,
    embedder id, context), so the partitions of a namespace or of a model share a prefix.
    """
    return f"{partition_prefix(namespace, llm_hash)}{_digest(model_id)}/{_digest(context)}"


def split_prompt(prompt: str) -> PromptParts:
    """Split a LangChain cache prompt into its exact context and its semantic query text.

    Example:
        .. code-block:: python

            from langchain_core.load import dumps
            from langchain_core.messages import HumanMessage, SystemMessage

            parts = split_prompt(dumps([SystemMessage("Be brief."), HumanMessage("Hi there")]))
            assert parts.query == "Hi there"
    """
    messages = _parse_messages(prompt)
    if messages is None:
        # A plain LLM prompt is its own query; the marker keeps it apart from any chat context.
        return PromptParts(context="llm", query=prompt if prompt.strip() else None)
    last = messages[-1]
    if last["id"][-1] not in _HUMAN_TYPES:
        return PromptParts(context="chat-exact:" + prompt, query=None)
    kwargs = last.get("kwargs") or {}
    text, rest = _split_content(kwargs.get("content", ""))
    if not text.strip():
        return PromptParts(context="chat-exact:" + prompt, query=None)
    # The last turn stays in the context with its text removed, so its name, extra kwargs and
    # any non-text content blocks (images, files) still have to match exactly.
    stripped = {**last, "kwargs": {**kwargs, "content": rest}}
    context = json.dumps([*messages[:-1], stripped], sort_keys=True, ensure_ascii=False)
    return PromptParts(context="chat:" + context, query=text)


def _parse_messages(prompt: str) -> list[dict[str, Any]] | None:
    """Return the serialised message list, or ``None`` when ``prompt`` is not one."""
    if not prompt.startswith("[{"):
        return None
    try:
        value = json.loads(prompt)
    except ValueError:
        return None
    if not isinstance(value, list) or not value:
        return None
    for item in value:
        if not (
            isinstance(item, dict)
            and item.get("lc") == 1
            and item.get("type") == "constructor"
            and isinstance(item.get("id"), list)
            and item["id"][:3] == _MESSAGE_ID_PREFIX
        ):
            return None
    return value


def _split_content(content: Any) -> tuple[str, Any]:
    """Return (text for the semantic match, the remaining content that must match exactly)."""
    if isinstance(content, str):
        return content, ""
    if not isinstance(content, list):
        return "", content
    texts: list[str] = []
    rest: list[Any] = []
    for block in content:
        if isinstance(block, str):
            texts.append(block)
        elif (
            isinstance(block, dict)
            and block.get("type") == "text"
            and isinstance(block.get("text"), str)
            and set(block) <= {"type", "text"}
        ):
            texts.append(block["text"])
        else:
            rest.append(block)
    return "\n".join(texts), rest
