"""The exceptions every embedder raises.

Callers catch :class:`EmbeddingError` for anything an embedder can fail with. The
``retryable`` flag marks what the retry layer may try again (rate limits, 5xx,
connection failures and timeouts); everything else is raised at once.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceededError",
    "CircuitOpenError",
    "EmbeddingError",
    "InputTooLongError",
    "InvalidInputError",
    "MissingDependencyError",
    "ProviderError",
    "RateLimitError",
    "RequestTimeoutError",
    "ResponseFormatError",
    "ServerConnectionError",
    "ServiceUnavailableError",
]


class EmbeddingError(Exception):
    """Base class of every embedding failure."""

    #: Short name used as the key of ``errors`` in an embedder's stats.
    kind: str = "error"
    #: Whether the retry layer may try the same request again.
    retryable: bool = False


class InvalidInputError(EmbeddingError, ValueError):
    """The texts given to ``embed`` are not a non-empty sequence of acceptable strings."""

    kind = "invalid_input"


class MissingDependencyError(EmbeddingError, ImportError):
    """An optional package needed by this embedder is not installed."""

    kind = "missing_dependency"


class ProviderError(EmbeddingError):
    """The embedding service refused the request or answered something unusable."""

    kind = "provider"

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class AuthenticationError(ProviderError):
    """401/403: the API key is missing, wrong or lacks permission. Never retried."""

    kind = "authentication"


class BadRequestError(ProviderError):
    """400 and other client errors (404, 413, 422): the request itself is wrong. Never retried."""

    kind = "bad_request"


class InputTooLongError(BadRequestError):
    """A text is longer than the model's input window, and the server refused it whole.

    Never retried. The cache adapters then match that prompt exactly, never by meaning.
    """

    kind = "input_too_long"


class RateLimitError(ProviderError):
    """429: still rate limited after the retries (``retry_after`` is the server's last hint)."""

    kind = "rate_limit"
    retryable = True

    def __init__(
        self, message: str, *, status_code: int | None = 429, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class ServiceUnavailableError(ProviderError):
    """5xx: the service failed, and kept failing through the retries."""

    kind = "server"
    retryable = True


class ServerConnectionError(ProviderError):
    """The service could not be reached (refused, reset, DNS)."""

    kind = "connection"
    retryable = True


class RequestTimeoutError(ServerConnectionError):
    """The service did not answer within the configured timeout."""

    kind = "timeout"


class ResponseFormatError(ProviderError):
    """The service answered 2xx with a body that is not the embeddings expected.

    Malformed JSON, a missing field, the wrong number of vectors or the wrong dimension.
    """

    kind = "bad_response"


class CircuitOpenError(EmbeddingError):
    """Refused without calling the service: it failed repeatedly and is cooling down."""

    kind = "circuit_open"

    def __init__(self, message: str, *, retry_in: float) -> None:
        super().__init__(message)
        self.retry_in = retry_in


class BudgetExceededError(EmbeddingError):
    """Refused without calling the service: today's spending limit would be passed."""

    kind = "budget"
