"""LlamaIndex integration for bsc-cache: change ``Settings``, and nothing else.

``Settings.llm = BinarySemanticLLM(Settings.llm)`` answers repeated and paraphrased questions
from a semantic cache (context exact, question by meaning);
``Settings.embed_model = BinaryCachedEmbedding(Settings.embed_model)`` embeds each text once;
``BinaryKVStore`` backs ``embeddings_cache`` and ``IngestionCache``.
"""

from __future__ import annotations

from binary_semantic_cache.control import refresh, skip
from bsc_llamaindex.embedding import BinaryCachedEmbedding, BSCEmbedding, EmbeddingCacheStats
from bsc_llamaindex.kvstore import BinaryKVStore
from bsc_llamaindex.llm import BinarySemanticLLM
from bsc_llamaindex.partition import (
    DEFAULT_QUERY_TEMPLATES,
    PromptParts,
    split_completion,
    split_messages,
)
from bsc_llamaindex.stats import CacheStats, ModelPrice

__all__ = [
    "DEFAULT_QUERY_TEMPLATES",
    "BSCEmbedding",
    "BinaryCachedEmbedding",
    "BinaryKVStore",
    "BinarySemanticLLM",
    "CacheStats",
    "EmbeddingCacheStats",
    "ModelPrice",
    "PromptParts",
    "refresh",
    "skip",
    "split_completion",
    "split_messages",
]
