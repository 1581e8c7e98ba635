"""Embedders: text to L2-normalised float32 vectors, behind one :class:`Embedder` protocol.

:class:`DefaultEmbedder` runs offline with no key. :class:`OpenAIEmbedder` and
:class:`OllamaEmbedder` call a server with batching, rate limits, retries, a circuit
breaker, cost accounting and an optional daily budget. :func:`as_embedder` adapts a
LangChain or LlamaIndex embedding model, and :class:`MemoizedEmbedder` remembers recent
texts so a text is not embedded twice in a row.
"""

from __future__ import annotations

from binary_semantic_cache.embeddings.adapters import (
    LangChainEmbedder,
    LlamaIndexEmbedder,
    as_embedder,
    wrapped_embedder,
)
from binary_semantic_cache.embeddings.base import BaseEmbedder, Embedder, Vectors
from binary_semantic_cache.embeddings.circuit import CircuitBreaker, CircuitState
from binary_semantic_cache.embeddings.default import DEFAULT_MODEL_ID, DefaultEmbedder
from binary_semantic_cache.embeddings.errors import (
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    CircuitOpenError,
    EmbeddingError,
    InputTooLongError,
    InvalidInputError,
    MissingDependencyError,
    ProviderError,
    RateLimitError,
    RequestTimeoutError,
    ResponseFormatError,
    ServerConnectionError,
    ServiceUnavailableError,
)
from binary_semantic_cache.embeddings.memo import MemoizedEmbedder
from binary_semantic_cache.embeddings.ollama import OllamaEmbedder
from binary_semantic_cache.embeddings.openai_backend import OpenAIEmbedder, OpenAIEmbeddingBackend
from binary_semantic_cache.embeddings.pricing import (
    DEFAULT_PRICES_PER_MILLION_TOKENS,
    DailyBudget,
    PriceTable,
)
from binary_semantic_cache.embeddings.ratelimit import TokenBucket
from binary_semantic_cache.embeddings.retry import RetryPolicy
from binary_semantic_cache.embeddings.stats import RemoteStats, StatsSnapshot

__all__ = [
    "DEFAULT_MODEL_ID",
    "DEFAULT_PRICES_PER_MILLION_TOKENS",
    "AuthenticationError",
    "BadRequestError",
    "BaseEmbedder",
    "BudgetExceededError",
    "CircuitBreaker",
    "CircuitOpenError",
    "CircuitState",
    "DailyBudget",
    "DefaultEmbedder",
    "Embedder",
    "EmbeddingError",
    "InputTooLongError",
    "InvalidInputError",
    "LangChainEmbedder",
    "LlamaIndexEmbedder",
    "MemoizedEmbedder",
    "MissingDependencyError",
    "OllamaEmbedder",
    "OpenAIEmbedder",
    "OpenAIEmbeddingBackend",
    "PriceTable",
    "ProviderError",
    "RateLimitError",
    "RemoteStats",
    "RequestTimeoutError",
    "ResponseFormatError",
    "RetryPolicy",
    "ServerConnectionError",
    "ServiceUnavailableError",
    "StatsSnapshot",
    "TokenBucket",
    "Vectors",
    "as_embedder",
    "wrapped_embedder",
]
