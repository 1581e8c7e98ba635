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
import re
import warnings
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
# Kept with a message but never sent to the model, and different in every run of the same
# conversation: the provider's response id and token counts, or this cache's own hit marks.
_NOT_SENT = frozenset({"id", "response_metadata", "usage_metadata"})


@dataclass(frozen=True, slots=True)
class PromptParts:
    """A prompt split for lookup.

    ``context`` is a canonical string of everything that must match exactly; ``query`` is the
    text that may match semantically, or ``None`` when the prompt may only match exactly (the
    last message is not a human turn, or it carries no text).
    """

    context: str
    query: str | None


# ", ('cache', False)" in the sorted keyword list of an llm_string, or "('cache', False), " first.
_CACHE_KEYWORD = re.compile(
    r", \('cache', (True|False|None)\)|\('cache', (True|False|None)\)(?:, )?"
)


def hash_llm_string(llm_string: str) -> str:
    """Return the hex SHA-256 of ``llm_string``; the only form of it the cache keeps.

    ``llm_string`` can hold base URLs, headers and other configuration that must not be stored.
    """
    return hashlib.sha256(llm_string.encode("utf-8", "surrogatepass")).hexdigest()


def without_cache_keyword(llm_string: str) -> tuple[str, bool]:
    """``llm_string`` without a ``cache=`` keyword of the call, and whether it was ``False``.

    LangChain puts a call's keywords in ``llm_string`` and sends them on to the provider, so
    ``model.invoke(q, cache=False)`` neither skips a cache nor should it change the key. It is
    taken out here, with a warning (once) pointing to :func:`bsc_langchain.skip`.
    """
    match = _CACHE_KEYWORD.search(llm_string) if "('cache', " in llm_string else None
    if match is None:
        return llm_string, False
    warnings.warn(
        "cache= was passed to a model call: LangChain sends it on to the model's provider and "
        "it does not switch a cache off; use `with bsc_langchain.skip():` (or refresh()) "
        "around the call. This cache honours cache=False and leaves it out of the key.",
        UserWarning,
        stacklevel=2,
    )
    opted_out = (match[1] or match[2]) == "False"
    return llm_string[: match.start()] + llm_string[match.end() :], opted_out


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
    messages = _as_sent(messages)
    last = messages[-1]
    kwargs = last["kwargs"]
    text, rest = _split_content(kwargs.get("content", ""))
    if last["id"][-1] not in _HUMAN_TYPES or not text.strip():
        return PromptParts(context="chat-exact:" + _canonical(messages), query=None)
    # The last turn stays in the context with its text removed, so its name, extra kwargs and
    # any non-text content blocks (images, files) still have to match exactly.
    stripped = {**last, "kwargs": {**kwargs, "content": rest}}
    return PromptParts(context="chat:" + _canonical([*messages[:-1], stripped]), query=text)


def _canonical(messages: list[dict[str, Any]]) -> str:
    return json.dumps(messages, sort_keys=True, ensure_ascii=False)


def _as_sent(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages as the model receives them: without what is not sent, and with tool-call ids
    renamed in order of appearance (a provider makes new random ones in every response; only
    which result answers which call reaches the model's reading).
    """
    names: dict[str, str] = {}

    def rename(call_id: object) -> object:
        return (
            names.setdefault(call_id, f"call_{len(names)}") if isinstance(call_id, str) else call_id
        )

    sent = []
    for message in messages:
        kwargs = {k: v for k, v in (message.get("kwargs") or {}).items() if k not in _NOT_SENT}
        for key in ("tool_calls", "invalid_tool_calls"):
            if isinstance(kwargs.get(key), list):
                kwargs[key] = [
                    {**call, "id": rename(call.get("id"))} if isinstance(call, dict) else call
                    for call in kwargs[key]
                ]
        if "tool_call_id" in kwargs:
            kwargs["tool_call_id"] = rename(kwargs["tool_call_id"])
        sent.append({**message, "kwargs": kwargs})
    return sent


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
