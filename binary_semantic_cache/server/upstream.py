"""The client of the upstream OpenAI-compatible API, with the HTTP embedders' failure rules.

A request that could not reach the upstream (connection refused, connect timeout) is retried by
the :class:`~binary_semantic_cache.embeddings.RetryPolicy`, since it was never seen there; one
that reached it is never retried here: its status (429 with ``Retry-After``, a 5xx) goes back to
the caller, whose SDK retries as it is set to, and retrying here too would multiply the attempts.
Connection failures and 5xx answers count towards the
:class:`~binary_semantic_cache.embeddings.CircuitBreaker`; while it is open requests are refused
at once with :class:`UpstreamUnavailable`.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping

import httpx

from binary_semantic_cache.embeddings import CircuitBreaker, RetryPolicy
from binary_semantic_cache.embeddings.errors import CircuitOpenError, ServerConnectionError

__all__ = ["FORWARDED_RESPONSE_HEADERS", "Upstream", "UpstreamUnavailable", "response_headers"]

# Request headers that say who calls and which API version; the rest is the server's business.
_FORWARDED_REQUEST_HEADERS = (
    "authorization",
    "api-key",
    "openai-organization",
    "openai-project",
    "openai-beta",
    "accept",
    "content-type",
)
#: Response headers the caller's SDK reads: retry hints, rate limits, request ids.
FORWARDED_RESPONSE_HEADERS = (
    "content-type",
    "retry-after",
    "retry-after-ms",
    "x-request-id",
    "openai-processing-ms",
    "openai-organization",
    "openai-version",
)
_RATE_LIMIT_PREFIX = "x-ratelimit-"
_POOLS = 8


class UpstreamUnavailable(Exception):
    """The upstream could not be reached, or its breaker is open; ``retry_after`` in seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Upstream:
    """Sends requests to ``base_url`` (e.g. ``https://api.openai.com/v1``).

    Args:
        base_url: The API root the server's ``/v1`` stands for.
        api_key: Sent instead of each caller's own key; ``None``: the caller's is passed on.
        timeout: Seconds to wait for the upstream to answer or send the next bytes.
        retry: Retries of requests that could not connect.
        breaker: Stops calling an upstream that keeps failing.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 600.0,
        retry: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._retry = retry if retry is not None else RetryPolicy()
        self._breaker = breaker if breaker is not None else CircuitBreaker()
        # httpcore's pool looks at every connection it holds for each request (quadratic in
        # connections: 100 in flight cost a third of the server's CPU), so requests are spread
        # over a few pools. No limit: a stream holds its connection for its whole length.
        self._clients = [
            httpx.AsyncClient(
                timeout=httpx.Timeout(timeout, connect=10.0),
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=16),
            )
            for _ in range(_POOLS)
        ]
        self._next_client = itertools.cycle(self._clients)

    @property
    def breaker_state(self) -> str:
        return self._breaker.state

    async def send(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes | None = None
    ) -> httpx.Response:
        """Send a request and return the response with its body not yet read (the caller reads
        or streams it, then closes it).

        Raises:
            UpstreamUnavailable: the upstream could not be reached, or its breaker is open.
        """
        outgoing = {k: v for k, v in headers.items() if k in _FORWARDED_REQUEST_HEADERS}
        if self._api_key is not None:
            outgoing.pop("api-key", None)
            outgoing["authorization"] = f"Bearer {self._api_key}"
        client = next(self._next_client)
        request = client.build_request(method, self.base_url + path, headers=outgoing, content=body)
        try:
            trial = self._breaker.before_call()
        except CircuitOpenError as exc:
            raise UpstreamUnavailable(str(exc), retry_after=exc.retry_in) from exc
        try:
            response = await self._attempts(client, request)
        except BaseException:
            if trial:
                self._breaker.cancel_trial()
            raise
        if response.status_code >= 500:
            self._breaker.record_failure()
        else:
            self._breaker.record_success()
        return response

    async def _attempts(self, client: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
        retries = 0
        while True:
            try:
                return await client.send(request, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                error = ServerConnectionError(f"{self.base_url}: {exc or type(exc).__name__}")
            except httpx.TransportError as exc:
                self._breaker.record_failure()
                msg = f"expected an answer from {self.base_url}, got {type(exc).__name__}: {exc}"
                raise UpstreamUnavailable(msg) from exc
            delay = self._retry.delay(retries, error)
            if delay is None:
                self._breaker.record_failure()
                msg = f"expected to reach {self.base_url}, got {error} after {retries + 1} tries"
                raise UpstreamUnavailable(msg) from error
            await asyncio.sleep(delay)
            retries += 1

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()


def response_headers(response: httpx.Response) -> dict[str, str]:
    """The upstream's headers a caller should see."""
    return {
        name: value
        for name, value in response.headers.items()
        if name in FORWARDED_RESPONSE_HEADERS or name.startswith(_RATE_LIMIT_PREFIX)
    }
