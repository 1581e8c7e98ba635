"""What every route of the server shares: reading a bounded body, the per-request cache control,
OpenAI-shaped errors, and passing an upstream answer through unchanged."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from enum import Enum
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response

from binary_semantic_cache.server.upstream import UpstreamUnavailable, response_headers

__all__ = [
    "CACHE_HEADER",
    "BodyError",
    "CacheControl",
    "cache_control",
    "error_response",
    "passed_through",
    "read_json",
    "unavailable",
]

#: The request and response header of the cache's part in a request.
CACHE_HEADER = "x-bsc-cache"


class CacheControl(Enum):
    """What a request lets the cache do: answer and store, only store (refresh), or nothing."""

    USE = "use"
    REFRESH = "refresh"
    SKIP = "skip"


class BodyError(Exception):
    """A request body the server cannot take: ``status`` 400 or 413."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code

    def response(self) -> Response:
        return error_response(self.status, str(self), code=self.code)


def cache_control(headers: Mapping[str, str]) -> CacheControl:
    """``Cache-Control: no-store`` or ``x-bsc-cache: skip``/``no-store``: neither answer from nor
    store in the cache; ``no-cache`` or ``refresh``: ask the upstream and store its answer."""
    directives = {d.strip().lower() for d in headers.get("cache-control", "").split(",")}
    directives.add(headers.get(CACHE_HEADER, "").strip().lower())
    if directives & {"no-store", "skip"}:
        return CacheControl.SKIP
    if directives & {"no-cache", "refresh"}:
        return CacheControl.REFRESH
    return CacheControl.USE


async def read_json(request: Request, limit: int) -> tuple[bytes, Any]:
    """The request's body and its JSON, read no further than ``limit`` bytes.

    Raises:
        BodyError: 413 past the limit, 400 when it is not JSON.
    """
    declared = request.headers.get("content-length", "")
    too_large = BodyError(
        413, f"expected a request body of at most {limit} bytes, got more", "request_too_large"
    )
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    parts: list[bytes] = []
    size = 0
    async for part in request.stream():
        size += len(part)
        if size > limit:
            raise too_large
        parts.append(part)
    raw = b"".join(parts)
    try:
        return raw, json.loads(raw)
    except ValueError as exc:
        raise BodyError(400, f"expected a JSON request body, got invalid JSON: {exc}", "") from exc


def error_response(
    status: int, message: str, *, code: str = "", headers: Mapping[str, str] | None = None
) -> Response:
    """An error in the shape OpenAI's SDKs read."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    error = {"message": message, "type": kind, "param": None, "code": code or None}
    return Response(
        json.dumps({"error": error}),
        status_code=status,
        headers={**(headers or {}), CACHE_HEADER: "miss"},
        media_type="application/json",
    )


def unavailable(exc: UpstreamUnavailable) -> Response:
    """502 for an upstream that could not be reached; 503 with ``Retry-After`` while its breaker
    is open."""
    if exc.retry_after is None:
        return error_response(502, str(exc), code="upstream_unreachable")
    wait = {"retry-after": str(max(1, math.ceil(exc.retry_after)))}
    return error_response(503, str(exc), code="upstream_circuit_open", headers=wait)


async def passed_through(response: httpx.Response, marks: Mapping[str, str]) -> Response:
    """The upstream's answer as it came: status, body, and the headers an SDK reads."""
    try:
        body = await response.aread()
    finally:
        await response.aclose()
    return Response(
        body, status_code=response.status_code, headers={**response_headers(response), **marks}
    )
