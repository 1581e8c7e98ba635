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
    RepairReport,
    UnsupportedFormatError,
    __version__,
    repair,
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
    "RepairReport",
    "UnsupportedFormatError",
    "__version__",
    "refresh",
    "repair",
    "skip",
]
