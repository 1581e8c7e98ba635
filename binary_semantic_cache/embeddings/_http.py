"""HTTP status codes to embedding errors, the same for every HTTP backend."""

from __future__ import annotations

import re
from collections.abc import Mapping

from binary_semantic_cache.embeddings.errors import (
    AuthenticationError,
    BadRequestError,
    InputTooLongError,
    ProviderError,
    RateLimitError,
    RequestTimeoutError,
    ServiceUnavailableError,
)
from binary_semantic_cache.embeddings.retry import parse_retry_after

__all__ = ["status_error"]

# How servers say an input is past the model's window: Ollama "the input length exceeds the
# context length" (400, or 500 in some versions), OpenAI and vLLM "maximum context length is
# N tokens", llama.cpp "exceeds the available context size" / "input is too large".
_INPUT_TOO_LONG = re.compile(
    r"exceeds the (?:available )?context|maximum context length|context_length_exceeded"
    r"|maximum input length|input is too large",
    re.IGNORECASE,
)


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
    if _INPUT_TOO_LONG.search(message):
        # Before the 5xx rule: a 500 saying so is no outage, and retrying cannot help.
        return InputTooLongError(
            f"{host} refused a text longer than the model's input window ({status}): {message}",
            status_code=status,
        )
    if status == 408:
        return RequestTimeoutError(f"{host} timed out the request (408)", status_code=status)
    if status >= 500:
        return ServiceUnavailableError(f"{host} failed ({status}): {message}", status_code=status)
    return BadRequestError(f"{host} rejected the request ({status}): {message}", status_code=status)
