"""bsc-cache: a binary semantic cache for LLM applications (Rust core, Python API)."""

from __future__ import annotations

from binary_semantic_cache._core import (
    DEFAULT_MAX_ENTRIES,
    DEFAULT_SEED,
    DEFAULT_SIMILARITY_THRESHOLD,
    BinaryEncoder,
    BSCError,
    CacheHit,
    CorruptCacheError,
    UnsupportedFormatError,
    __version__,
)
from binary_semantic_cache.cache import BinarySemanticCache
from binary_semantic_cache.control import refresh, skip

__all__ = [
    "DEFAULT_MAX_ENTRIES",
    "DEFAULT_SEED",
    "DEFAULT_SIMILARITY_THRESHOLD",
    "BSCError",
    "BinaryEncoder",
    "BinarySemanticCache",
    "CacheHit",
    "CorruptCacheError",
    "UnsupportedFormatError",
    "__version__",
    "refresh",
    "skip",
]
