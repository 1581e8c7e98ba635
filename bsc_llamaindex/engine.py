"""The LLM wrapper's side of the request engine: its calls as requests, its answers' usage.

The flow itself (exact tier, embedding, match, guards, verifier, write, failures, stats) is
:class:`~binary_semantic_cache.request_engine.RequestEngine`'s; only what LlamaIndex alone needs
is here.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from llama_index.core.llms.llm import LLM

from binary_semantic_cache.embeddings import Embedder
from binary_semantic_cache.request_engine import CacheOptions, Request, RequestEngine, exact_key
from binary_semantic_cache.stats import Usage
from bsc_llamaindex.identity import canonical_json, component_identity
from bsc_llamaindex.partition import PromptParts, partition_id
from bsc_llamaindex.payload import StoredAnswer, load_answer

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["answer_usage", "call_request", "open_engine"]

logger = logging.getLogger("bsc_llamaindex")

# How LlamaIndex's model integrations name the token counts they put in additional_kwargs.
_TOKEN_KEYS = (("prompt_tokens", "completion_tokens"), ("input_tokens", "output_tokens"))


def open_engine(
    embedder: Embedder, inner: LLM, namespace: str, **options: Unpack[CacheOptions]
) -> RequestEngine[StoredAnswer]:
    """The engine behind a wrapper of ``inner``: its answers priced by ``inner``'s model name."""
    return RequestEngine(
        embedder,
        decode=load_answer,
        usage=lambda answer: answer_usage(answer, inner.metadata.model_name),
        redis_namespace=f"bsc_llamaindex/{namespace}",
        logger=logger,
        **options,
    )


def call_request(
    namespace: str,
    inner: LLM,
    embedder_id: str,
    kind: str,
    kwargs: dict[str, Any],
    parts: PromptParts,
) -> Request:
    """The request of one call of ``inner``: its partition is everything that must match exactly."""
    # Excluded from the model's fields, but they change the prompt the model reads.
    formatters = canonical_json([inner.messages_to_prompt, inner.completion_to_prompt])
    partition = partition_id(
        namespace,
        component_identity(inner),
        formatters,
        embedder_id,
        kind,
        canonical_json(kwargs),
        parts.context,
    )
    return Request(exact_key(partition, parts.query), lambda: (partition, parts.query))


def answer_usage(answer: StoredAnswer, model: str | None) -> list[Usage]:
    """The token counts a stored answer's model reported in its ``additional_kwargs``."""
    counts = answer.additional_kwargs
    for input_key, output_key in _TOKEN_KEYS:
        if isinstance(counts.get(input_key), int) or isinstance(counts.get(output_key), int):
            return [Usage(int(counts.get(input_key) or 0), int(counts.get(output_key) or 0), model)]
    return []
