"""Ollama's native embedding endpoint, ``POST /api/embed``."""

from __future__ import annotations

import asyncio
import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from urllib.parse import urlsplit

from binary_semantic_cache.embeddings._http import status_error
from binary_semantic_cache.embeddings._remote import RemoteEmbedder, Reply
from binary_semantic_cache.embeddings.circuit import CircuitBreaker
from binary_semantic_cache.embeddings.errors import (
    RequestTimeoutError,
    ResponseFormatError,
    ServerConnectionError,
)
from binary_semantic_cache.embeddings.retry import RetryPolicy
from binary_semantic_cache.embeddings.tokens import estimate_tokens

__all__ = ["OllamaEmbedder"]

_DEFAULT_HOST = "http://127.0.0.1:11434"


class OllamaEmbedder(RemoteEmbedder):
    """Embeddings from an Ollama server (``ollama pull nomic-embed-text`` first).

    ``base_url`` defaults to ``OLLAMA_HOST``, then ``http://127.0.0.1:11434``. The
    dimension is learnt from the first answer unless ``dim`` is given. Retries, the
    circuit breaker, stats and ``max_concurrent_requests`` (how many batches ``aembed``
    sends at once) work as in :class:`OpenAIEmbedder`; nothing is priced.
    Requests use the standard library, so this backend needs no extra package. A text longer
    than the model's context is refused by the server (:class:`InputTooLongError`; the cache
    adapters then match that prompt exactly), never embedded cut off.

    Example:
        .. code-block:: python

            from binary_semantic_cache.embeddings import OllamaEmbedder

            embedder = OllamaEmbedder(model_name="nomic-embed-text")
            vector = embedder.embed_one("Hello local world")
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        model_name: str | None = None,
        base_url: str | None = None,
        dim: int | None = None,
        timeout: float = 60.0,
        max_batch_size: int = 64,
        rpm_limit: float | None = None,
        retry: RetryPolicy | None = None,
        circuit_breaker: CircuitBreaker | None = None,
        max_concurrent_requests: int = 4,
    ) -> None:
        if model is not None and model_name is not None and model != model_name:
            raise ValueError(f"model={model!r} and model_name={model_name!r} disagree")
        name = model or model_name or "nomic-embed-text"
        super().__init__(
            model=name,
            dim=dim,
            max_batch_size=max_batch_size,
            max_batch_tokens=None,
            rpm_limit=rpm_limit,
            tpm_limit=None,
            retry=retry,
            circuit_breaker=circuit_breaker,
            daily_budget_usd=None,
            prices=None,
            token_counter=estimate_tokens,
            allow_empty_strings=True,
            max_concurrent_requests=max_concurrent_requests,
        )
        url = base_url or os.environ.get("OLLAMA_HOST") or _DEFAULT_HOST
        if "://" not in url:
            url = f"http://{url}"  # OLLAMA_HOST is often written as host:port
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be an http(s) URL, got {url!r}")
        self._host = parts.hostname + (f":{parts.port}" if parts.port else "")
        self._endpoint = url.rstrip("/") + "/api/embed"
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"OllamaEmbedder(model={self._model!r}, host={self._host!r})"

    @property
    def model_id(self) -> str:
        return f"ollama:{self._model}@{self._host}"

    def _send(self, batch: list[str]) -> Reply:
        # Ollama cuts a text past the model's context unless told not to; a vector of the start
        # alone could match another question with the same start, so an over-long text fails.
        body = json.dumps({"model": self._model, "input": batch, "truncate": False}).encode()
        request = urllib.request.Request(
            self._endpoint, data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            headers: Mapping[str, str] = {k.lower(): v for k, v in exc.headers.items()}
            raise status_error(exc.code, headers, _server_message(exc.read()), self._host) from exc
        except TimeoutError as exc:
            raise RequestTimeoutError(
                f"expected an answer from {self._host} within {self._timeout} s, got none"
            ) from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise RequestTimeoutError(
                    f"expected an answer from {self._host} within {self._timeout} s, got none"
                ) from exc
            raise ServerConnectionError(
                f"expected to reach Ollama at {self._host}, got: {exc.reason}"
            ) from exc
        except OSError as exc:  # reset or closed mid-answer
            raise ServerConnectionError(f"connection to {self._host} failed: {exc}") from exc
        return _parse(raw, self._host)

    async def _asend(self, batch: list[str]) -> Reply:
        # The standard library has no async HTTP client; a worker thread keeps the loop free.
        # A thread cannot be interrupted: a cancelled call's request runs to its end (at
        # most ``timeout``) and the answer is dropped.
        return await asyncio.to_thread(self._send, batch)


def _server_message(raw: bytes) -> str:
    try:
        error = json.loads(raw).get("error")
    except (ValueError, AttributeError):
        error = None
    return str(error) if error else raw[:200].decode("utf-8", "replace")


def _parse(raw: bytes, host: str) -> Reply:
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        raise ResponseFormatError(
            f"expected JSON from {host}/api/embed, got {raw[:80]!r} ({exc})"
        ) from exc
    vectors = payload.get("embeddings") if isinstance(payload, dict) else None
    if not isinstance(vectors, list):
        raise ResponseFormatError(
            f"expected an object with an 'embeddings' list from {host}/api/embed, "
            f"got {type(payload).__name__} without one"
        )
    tokens = payload.get("prompt_eval_count")
    return Reply(vectors=vectors, tokens=tokens if isinstance(tokens, int) else None)
