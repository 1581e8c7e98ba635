"""OpenAI's embeddings API, and any server speaking it (LM Studio, vLLM, Ollama's /v1)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from binary_semantic_cache.embeddings._http import status_error
from binary_semantic_cache.embeddings._remote import RemoteEmbedder, Reply
from binary_semantic_cache.embeddings.circuit import CircuitBreaker
from binary_semantic_cache.embeddings.errors import (
    AuthenticationError,
    EmbeddingError,
    MissingDependencyError,
    ProviderError,
    RequestTimeoutError,
    ResponseFormatError,
    ServerConnectionError,
)
from binary_semantic_cache.embeddings.retry import RetryPolicy
from binary_semantic_cache.embeddings.tokens import TokenCounter, token_counter_for

if TYPE_CHECKING:
    import openai

__all__ = ["OpenAIEmbedder", "OpenAIEmbeddingBackend"]

_OPENAI_HOST = "api.openai.com"
#: Dimensions of OpenAI's models at their default size; others are learnt from the first answer.
_KNOWN_DIMS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
# The API's per-request limits: 2048 inputs and 300,000 tokens summed over them.
_MAX_INPUTS = 2048
_MAX_REQUEST_TOKENS = 300_000


def _import_openai() -> Any:
    try:
        import openai
    except ImportError as exc:
        raise MissingDependencyError(
            'OpenAIEmbedder needs the openai package: pip install "bsc-cache[openai]"'
        ) from exc
    return openai


class OpenAIEmbedder(RemoteEmbedder):
    """Embeddings from OpenAI or an OpenAI-compatible server, through the official SDK.

    ``api_key`` and ``base_url`` default to ``OPENAI_API_KEY`` and ``OPENAI_BASE_URL``. The
    key is handed to the SDK client only: it is not kept on this object, shown by ``repr``
    or put in ``model_id``. A server other than api.openai.com may need no key.

    Requests are batched within the API's limits (2048 inputs, 300,000 tokens) in input
    order; ``embed`` sends them one after another, ``aembed`` the first alone and then up
    to ``max_concurrent_requests`` at once. Each request is paced by token buckets for
    requests and tokens per minute, and retried by ``retry`` on 429 (waiting the server's
    ``Retry-After``), 5xx, connection errors and timeouts; the SDK's own retries are off so
    there is one retry layer. 400/401/403 raise at once. ``circuit_breaker`` stops calls to
    a failing server; ``daily_budget_usd`` refuses calls that would pass the day's spend,
    priced from ``prices`` (USD per million tokens, merged over
    ``DEFAULT_PRICES_PER_MILLION_TOKENS``).

    Example:
        .. code-block:: python

            from binary_semantic_cache.embeddings import OpenAIEmbedder

            embedder = OpenAIEmbedder("text-embedding-3-small", daily_budget_usd=5.0)
            vectors = embedder.embed(["What is the capital of France?"])
            print(embedder.get_stats()["cost_usd"])

            # LM Studio on this machine
            local = OpenAIEmbedder("nomic-embed-text-v1.5", base_url="http://127.0.0.1:1234/v1")
    """

    def __init__(
        self,
        model: str = "text-embedding-3-small",
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        dimensions: int | None = None,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        rpm_limit: float | None = 3000,
        tpm_limit: float | None = 1_000_000,
        max_batch_size: int = _MAX_INPUTS,
        max_batch_tokens: int = _MAX_REQUEST_TOKENS,
        retry: RetryPolicy | None = None,
        circuit_breaker: CircuitBreaker | None = None,
        daily_budget_usd: float | None = None,
        prices: Mapping[str, float] | None = None,
        token_counter: TokenCounter | None = None,
        max_concurrent_requests: int = 4,
    ) -> None:
        if not 1 <= max_batch_size <= _MAX_INPUTS:
            raise ValueError(f"max_batch_size must be in 1..{_MAX_INPUTS}, got {max_batch_size}")
        super().__init__(
            model=model,
            dim=dimensions if dimensions is not None else _KNOWN_DIMS.get(model),
            max_batch_size=max_batch_size,
            max_batch_tokens=max_batch_tokens,
            rpm_limit=rpm_limit,
            tpm_limit=tpm_limit,
            retry=retry,
            circuit_breaker=circuit_breaker,
            daily_budget_usd=daily_budget_usd,
            prices=prices,
            token_counter=token_counter if token_counter is not None else token_counter_for(model),
            # The API answers 400 to an empty string; say so before sending anything.
            allow_empty_strings=False,
            max_concurrent_requests=max_concurrent_requests,
        )
        sdk = _import_openai()
        url = base_url or os.environ.get("OPENAI_BASE_URL") or f"https://{_OPENAI_HOST}/v1"
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be an http(s) URL, got {parts.scheme or url!r}")
        # Only the host and port go into ids and messages: a URL may carry credentials.
        self._host = parts.hostname + (f":{parts.port}" if parts.port else "")
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            if parts.hostname == _OPENAI_HOST:
                raise AuthenticationError(
                    "expected an OpenAI API key, got none: pass api_key= or set OPENAI_API_KEY"
                )
            key = "unused"  # local servers ignore it, but the SDK insists on one
        self._dimensions = dimensions
        self._client: openai.OpenAI = sdk.OpenAI(
            api_key=key,
            base_url=url,
            timeout=sdk.Timeout(timeout, connect=connect_timeout),
            max_retries=0,  # the one retry layer is ours: RetryPolicy
        )
        self._async: tuple[asyncio.AbstractEventLoop, openai.AsyncOpenAI] | None = None

    def __repr__(self) -> str:
        return f"OpenAIEmbedder(model={self._model!r}, host={self._host!r})"

    @property
    def model_id(self) -> str:
        size = f"/{self._dimensions}" if self._dimensions is not None else ""
        return f"openai:{self._model}{size}@{self._host}"

    def _async_client(self) -> openai.AsyncOpenAI:
        # An async HTTP connection pool belongs to the event loop that opened it, so each
        # loop (e.g. each asyncio.run) gets its own client with the same settings.
        loop = asyncio.get_running_loop()
        if self._async is None or self._async[0] is not loop:
            sdk = _import_openai()
            client: openai.AsyncOpenAI = sdk.AsyncOpenAI(
                api_key=self._client.api_key,
                base_url=self._client.base_url,
                timeout=self._client.timeout,
                max_retries=0,
            )
            self._async = (loop, client)
        return self._async[1]

    def _params(self, batch: list[str]) -> dict[str, Any]:
        params: dict[str, Any] = {"input": batch, "model": self._model}
        # Compatible servers differ on base64; floats work everywhere.
        params["encoding_format"] = "float"
        if self._dimensions is not None:
            params["dimensions"] = self._dimensions
        return params

    def _send(self, batch: list[str]) -> Reply:
        try:
            response = self._client.embeddings.create(**self._params(batch))
        except Exception as exc:
            raise _translate(exc, self._host) from exc
        return _reply(response)

    async def _asend(self, batch: list[str]) -> Reply:
        try:
            response = await self._async_client().embeddings.create(**self._params(batch))
        except Exception as exc:
            raise _translate(exc, self._host) from exc
        return _reply(response)


#: The name earlier releases used (with ``embed_text`` and ``get_stats``).
OpenAIEmbeddingBackend = OpenAIEmbedder


def _reply(response: object) -> Reply:
    data = getattr(response, "data", None)
    if not isinstance(data, list):
        raise ResponseFormatError(
            f"expected a JSON object with a 'data' list, got {type(data).__name__} for 'data'"
        )
    try:
        # The API may answer out of order; each item says which input it belongs to.
        items = sorted(data, key=lambda item: int(item.index))
        vectors = [list(item.embedding) for item in items]
    except (AttributeError, TypeError, ValueError) as exc:
        raise ResponseFormatError(
            f"expected items with 'index' and 'embedding', got {exc}"
        ) from exc
    usage = getattr(response, "usage", None)
    tokens = getattr(usage, "prompt_tokens", None)
    return Reply(vectors=vectors, tokens=tokens if isinstance(tokens, int) else None)


def _translate(exc: Exception, host: str) -> EmbeddingError:
    """Map an SDK exception to ours, keeping the server's message and the status."""
    sdk = _import_openai()
    if isinstance(exc, sdk.APITimeoutError):
        return RequestTimeoutError(f"expected an answer from {host} in time, got none: {exc}")
    if isinstance(exc, sdk.APIConnectionError):
        return ServerConnectionError(f"expected to reach {host}, got: {exc}")
    if isinstance(exc, sdk.APIStatusError):
        return status_error(exc.status_code, exc.response.headers, str(exc), host)
    if isinstance(exc, (sdk.APIResponseValidationError, json.JSONDecodeError, ValueError)):
        return ResponseFormatError(f"expected an embeddings JSON body from {host}, got: {exc}")
    return ProviderError(f"unexpected failure calling {host}: {exc!r}")
