"""OpenAI request bodies as the engine's requests: what must match exactly, what by meaning.

A chat completion's context is every field of the body that can change the answer (model,
system and developer messages, history, tools, tool_choice, response_format, temperature and
the other sampling parameters, ``n``, ``seed``, and any field this module does not know),
matched exactly; its question is the text of the last message when that is a user turn,
matched by meaning. An embedding is cached per input, matched exactly.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from binary_semantic_cache.request_engine import Request, exact_key

__all__ = ["chat_request", "embedding_request", "user_text"]

# Fields that change how an answer is delivered or billed, never what it says.
_DELIVERY_FIELDS = frozenset({"messages", "stream", "stream_options", "user", "metadata", "store"})


def chat_request(
    body: Mapping[str, Any],
    tenant: str,
    embedder_id: str,
    *,
    exact_only: bool,
    on_refusal: Callable[[str], None] | None = None,
) -> Request | None:
    """The request of a chat completion body, or ``None`` when it has no message list to key."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return None
    last = messages[-1]
    query = None if exact_only else user_text(last)
    context: dict[str, Any] = {k: v for k, v in body.items() if k not in _DELIVERY_FIELDS}
    if query is None:
        context["messages"] = messages
    else:
        # The last turn's other fields (its name, say) are context too.
        context["messages"] = [*messages[:-1], {k: v for k, v in last.items() if k != "content"}]
    partition = f"{tenant}/chat/{_digest([embedder_id, context])}"
    return Request(exact_key(partition, query), lambda: (partition, query), on_refusal=on_refusal)


def embedding_request(body: Mapping[str, Any], tenant: str, item: Any) -> Request:
    """The request of one input of an embeddings body: the model, encoding and dimensions and
    the input itself, all exact (each input is its own partition: nothing else may answer it)."""
    context = {k: v for k, v in body.items() if k not in ("input", "user")}
    partition = f"{tenant}/embeddings/{_digest([context, item])}"
    return Request(exact_key(partition, None), lambda: (partition, None))


def user_text(message: Any) -> str | None:
    """The text of a user message (its text parts joined), or ``None`` when ``message`` is
    another role's or holds anything but text (an image or audio part is matched exactly)."""
    if not isinstance(message, dict) or message.get("role") != "user":
        return None
    content = message.get("content")
    if isinstance(content, str):
        return content
    if not isinstance(content, list) or not content:
        return None
    texts = []
    for part in content:
        if not (isinstance(part, dict) and part.get("type") == "text"):
            return None
        text = part.get("text")
        if not isinstance(text, str):
            return None
        texts.append(text)
    return "\n".join(texts)


def _digest(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.blake2b(canonical.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
