"""LangChain integration for bsc-cache: ``set_llm_cache(BinarySemanticLLMCache())``.

Context (system prompt, history, tools, model settings) must match exactly; only the last
question is matched by meaning.
"""

from __future__ import annotations

from bsc_langchain.cache import BinarySemanticLLMCache
from bsc_langchain.partition import PromptParts, split_prompt
from bsc_langchain.stats import CacheStats, ModelPrice

__all__ = [
    "BinarySemanticLLMCache",
    "CacheStats",
    "ModelPrice",
    "PromptParts",
    "split_prompt",
]
