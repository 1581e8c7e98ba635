"""``POST /v1/chat/completions``: answered from the engine, or relayed from the upstream and stored.

A streamed miss is relayed event by event as the upstream sends it, and stored only once it
ended complete (``[DONE]``, a finish reason for every choice) and was sent on to the caller in
full; an upstream error, a broken upstream stream or a caller gone mid-stream stores nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request as HttpRequest
from starlette.responses import Response, StreamingResponse

from binary_semantic_cache.request_engine import Hit, Request, RequestEngine
from binary_semantic_cache.server.answers import (
    StoredAnswer,
    chunk_fields,
    completion_fields,
    served_chunks,
    served_completion,
)
from binary_semantic_cache.server.keys import chat_request
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
from binary_semantic_cache.server.sse import DONE, StreamRecord, event, events
from binary_semantic_cache.server.tenants import MissingTenantError, TenantKeys
from binary_semantic_cache.server.upstream import Upstream, UpstreamUnavailable, response_headers

__all__ = ["ChatCompletions"]

logger = logging.getLogger("binary_semantic_cache.server")
_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


class ChatCompletions:
    """The chat completions route over one engine and one upstream."""

    def __init__(
        self,
        engine: RequestEngine[StoredAnswer],
        upstream: Upstream,
        tenants: TenantKeys,
        *,
        embedder_id: str,
        exact_only: bool,
        max_body_bytes: int,
    ) -> None:
        self._engine = engine
        self._upstream = upstream
        self._tenants = tenants
        self._embedder_id = embedder_id
        self._exact_only = exact_only
        self._max_body_bytes = max_body_bytes

    async def __call__(self, http: HttpRequest) -> Response:
        try:
            raw, body = await read_json(http, self._max_body_bytes)
            tenant = self._tenants.namespace(http.headers)
        except BodyError as exc:
            return exc.response()
        except MissingTenantError as exc:
            return error_response(400, str(exc), code="missing_tenant")
        if not isinstance(body, dict):
            return error_response(400, f"expected a JSON object, got {type(body).__name__}")
        control = cache_control(http.headers)
        refusals: list[str] = []
        request = (
            None
            if control is CacheControl.SKIP
            else chat_request(
                body,
                tenant,
                self._embedder_id,
                exact_only=self._exact_only,
                on_refusal=refusals.append,
            )
        )
        if request is not None and control is CacheControl.REFRESH:
            request = request._replace(mode="refresh")  # the answer stored replaces the old
        stream = body.get("stream") is True
        if request is not None and control is CacheControl.USE:
            hit = await self._engine.alookup(request)
            if hit is not None:
                served = self._served(hit, stream, _include_usage(body))
                if served is not None:
                    return served
        marks = {CACHE_HEADER: "refused" if refusals else "miss"}
        if refusals:
            marks["x-bsc-cache-refusal"] = refusals[0]
        # Concurrent callers of this request wait for this upstream call (single flight): any
        # way out that stores nothing lets them go on to the upstream themselves.
        with self._engine.calling(request):
            try:
                response = await self._upstream.send("POST", "/chat/completions", http.headers, raw)
            except UpstreamUnavailable as exc:
                self._abandon(request)
                return unavailable(exc)
        if response.status_code != 200:
            self._abandon(request)
            return await passed_through(response, marks)
        if stream:
            relay = self._relay(response, request)
            relay.headers.update({**response_headers(response), **_SSE_HEADERS, **marks})
            return relay
        reply = await passed_through(response, marks)
        if request is not None:
            await self._store_completion(request, reply.body)
        return reply

    def _served(self, hit: Hit[StoredAnswer], stream: bool, include_usage: bool) -> Response | None:
        """The hit as the caller asked for it; ``None`` (a miss) when it cannot be built."""
        marks = {
            CACHE_HEADER: "hit",
            "x-bsc-cache-tier": hit.tier,
            "x-bsc-cache-similarity": f"{hit.similarity:.4f}",
        }
        try:
            if not stream:
                body = json.dumps(served_completion(hit.answer), ensure_ascii=False)
                return Response(body, headers=marks, media_type="application/json")
            replay = [event(c) for c in served_chunks(hit.answer, include_usage)] + [DONE]
        except Exception as exc:
            self._engine.lookup_failed(exc)
            return None
        return StreamingResponse(
            _replayed(replay), headers={**_SSE_HEADERS, **marks}, media_type="text/event-stream"
        )

    async def _store_completion(self, request: Request, raw: bytes | memoryview) -> None:
        try:
            completion = json.loads(bytes(raw))
            choices = completion["choices"]
            complete = bool(choices) and all(c.get("finish_reason") for c in choices)
        except Exception as exc:
            self._engine.write_failed(exc)
            self._engine.abandon(request)
            return
        if complete:
            await self._engine.astore(request, lambda: completion_fields(completion))
        else:
            self._engine.abandon(request)

    def _abandon(self, request: Request | None) -> None:
        if request is not None:
            self._engine.abandon(request)

    def _relay(self, response: httpx.Response, request: Request | None) -> StreamingResponse:
        record = StreamRecord()
        relayed = _relayed(response, record)

        async def finish() -> None:
            # Runs once the response is over, whether the caller stayed or not; the record is
            # complete only if the relay went on past sending [DONE].
            await relayed.aclose()  # closes the upstream stream now, not when collected
            if request is not None and record.complete:
                await self._engine.astore(
                    request, lambda: chunk_fields(record.chunks, record.usage)
                )
            else:
                self._abandon(request)

        return StreamingResponse(
            relayed, media_type="text/event-stream", background=BackgroundTask(finish)
        )


async def _relayed(response: httpx.Response, record: StreamRecord) -> AsyncGenerator[bytes, None]:
    """The upstream's events as they come, each recorded once it has been sent on."""
    try:
        async for raw, data in events(response.aiter_lines()):
            yield raw
            if data is not None:
                record.add(data)
    except httpx.HTTPError as exc:
        # The status is sent already: an error event makes the caller's SDK raise instead of
        # taking a cut-off answer for a whole one.
        logger.warning("upstream stream broke off: %s: %s", type(exc).__name__, exc)
        message = f"expected the upstream stream to go on to [DONE], got {type(exc).__name__}"
        yield event({"error": {"message": message, "type": "upstream_error"}})
    finally:
        await response.aclose()


async def _replayed(replay: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in replay:
        yield chunk


def _include_usage(body: Mapping[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True
