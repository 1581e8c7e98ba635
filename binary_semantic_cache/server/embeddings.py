"""``POST /v1/embeddings``: each input looked up exactly, the missing ones sent in one batch.

The stored value of an input is its ``embedding`` as the upstream gave it (a float list, or a
base64 string for ``encoding_format: base64``, which is part of the key).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import partial
from typing import Any

from starlette.requests import Request as HttpRequest
from starlette.responses import Response

from binary_semantic_cache.request_engine import RequestEngine
from binary_semantic_cache.server.keys import embedding_request
from binary_semantic_cache.server.protocol import (
    CACHE_HEADER,
    BodyError,
    CacheControl,
    cache_control,
    error_response,
    passed_through,
    read_json,
    unavailable,
)
from binary_semantic_cache.server.tenants import MissingTenantError, TenantKeys
from binary_semantic_cache.server.upstream import Upstream, UpstreamUnavailable, response_headers

__all__ = ["Embeddings", "load_embedding"]


def load_embedding(fields: Mapping[str, Any]) -> Any:
    """A stored input's embedding; raises ValueError on a payload without one."""
    value = fields.get("x")
    if not isinstance(value, (list, str)):
        msg = f"expected a stored embedding (a list or a base64 str), got {type(value).__name__}"
        raise ValueError(msg)
    return value


class Embeddings:
    """The embeddings route over one (exact-only) engine and one upstream."""

    def __init__(
        self,
        engine: RequestEngine[Any],
        upstream: Upstream,
        tenants: TenantKeys,
        max_body_bytes: int,
    ) -> None:
        self._engine = engine
        self._upstream = upstream
        self._tenants = tenants
        self._max_body_bytes = max_body_bytes

    async def __call__(self, http: HttpRequest) -> Response:
        try:
            raw, body = await read_json(http, self._max_body_bytes)
            tenant = self._tenants.namespace(http.headers)
        except BodyError as exc:
            return exc.response()
        except MissingTenantError as exc:
            return error_response(400, str(exc), code="missing_tenant")
        control = cache_control(http.headers)
        items = _inputs(body)
        if items is None or control is CacheControl.SKIP:
            return await self._forward(raw, http.headers, {CACHE_HEADER: "miss"})
        requests = [embedding_request(body, tenant, item) for item in items]
        found: dict[int, Any] = {}
        if control is CacheControl.USE:
            for index, request in enumerate(requests):
                hit = await self._engine.alookup(request)
                if hit is not None:
                    found[index] = hit.answer
        missing = [i for i in range(len(items)) if i not in found]
        marks = {
            CACHE_HEADER: "miss" if missing else "hit",
            "x-bsc-cache-hits": f"{len(found)}/{len(items)}",
        }
        usage: Any = {"prompt_tokens": 0, "total_tokens": 0}
        model = body.get("model")
        headers = dict(marks)
        if missing:
            batch = json.dumps({**body, "input": [items[i] for i in missing]}).encode()
            try:
                response = await self._upstream.send("POST", "/embeddings", http.headers, batch)
            except UpstreamUnavailable as exc:
                return unavailable(exc)
            reply = await passed_through(response, marks)
            if response.status_code != 200:
                return reply
            headers = {**response_headers(response), **marks}
            headers.pop("content-type", None)
            fresh = self._fresh(bytes(reply.body), len(missing))
            if fresh is None:
                return reply
            answered, usage, model = fresh
            for position, index in enumerate(missing):
                found[index] = answered[position]
                await self._engine.astore(requests[index], partial(dict, x=answered[position]))
        data = [
            {"object": "embedding", "index": i, "embedding": found[i]} for i in range(len(items))
        ]
        payload = {"object": "list", "data": data, "model": model, "usage": usage}
        return Response(json.dumps(payload), headers=headers, media_type="application/json")

    def _fresh(self, raw: bytes, expected: int) -> tuple[list[Any], Any, Any] | None:
        """The upstream batch's embeddings in input order, its usage and model; ``None`` (the
        answer is passed on as it is, unstored) when it is not the list expected."""
        try:
            answer = json.loads(raw)
            rows = sorted(answer["data"], key=lambda row: row["index"])
            values = [row["embedding"] for row in rows]
            if len(values) != expected:
                msg = f"expected {expected} embeddings from the upstream, got {len(values)}"
                raise ValueError(msg)
        except Exception as exc:
            self._engine.write_failed(exc)
            return None
        return values, answer.get("usage"), answer.get("model")

    async def _forward(
        self, raw: bytes, headers: Mapping[str, str], marks: Mapping[str, str]
    ) -> Response:
        try:
            response = await self._upstream.send("POST", "/embeddings", headers, raw)
        except UpstreamUnavailable as exc:
            return unavailable(exc)
        return await passed_through(response, marks)


def _inputs(body: Any) -> list[Any] | None:
    """The inputs of an embeddings body (a text, texts, a token list or token lists), or
    ``None`` for a body this route does not know (it goes to the upstream as it is)."""
    if not isinstance(body, dict):
        return None
    value = body.get("input")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(isinstance(v, int) for v in value):
            return [value]  # one input given as its tokens
        return value
    return None
