"""LangChain integration for bsc-cache: ``set_llm_cache(BinarySemanticLLMCache())``.

Context (system prompt, history, tools, model settings) must match exactly; only the last
question is matched by meaning. ``BSCEmbeddings`` is the offline embedder as LangChain
``Embeddings``; ``BinaryByteStore`` keeps ``CacheBackedEmbeddings``' vectors.
"""

from __future__ import annotations

from binary_semantic_cache.control import refresh, skip
from bsc_langchain.cache import BinarySemanticLLMCache
from bsc_langchain.embeddings import BSCEmbeddings
from bsc_langchain.partition import PromptParts, split_prompt
from bsc_langchain.stats import CacheStats, ModelPrice
from bsc_langchain.store import BinaryByteStore

__all__ = [
    "BSCEmbeddings",
    "BinaryByteStore",
    "BinarySemanticLLMCache",
    "CacheStats",
    "ModelPrice",
    "PromptParts",
    "refresh",
    "skip",
    "split_prompt",
]
