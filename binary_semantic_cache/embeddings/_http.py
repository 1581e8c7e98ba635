"""HTTP status codes to embedding errors, the same for every HTTP backend."""

from __future__ import annotations

from collections.abc import Mapping

from binary_semantic_cache.embeddings.errors import (
    AuthenticationError,
    BadRequestError,
    ProviderError,
    RateLimitError,
    RequestTimeoutError,
    ServiceUnavailableError,
)
from binary_semantic_cache.embeddings.retry import parse_retry_after

__all__ = ["status_error"]


def status_error(status: int, headers: Mapping[str, str], message: str, host: str) -> ProviderError:
    """The error for a non-2xx answer; ``message`` is what the server said."""
    if status in (401, 403):
        return AuthenticationError(
            f"{host} refused the credentials ({status}): {message}; check the API key",
            status_code=status,
        )
    if status == 429:
        return RateLimitError(
            f"{host} is rate limiting (429): {message}", retry_after=parse_retry_after(headers)
        )
    if status == 408:
        return RequestTimeoutError(f"{host} timed out the request (408)", status_code=status)
    if status >= 500:
        return ServiceUnavailableError(f"{host} failed ({status}): {message}", status_code=status)
    return BadRequestError(f"{host} rejected the request ({status}): {message}", status_code=status)
