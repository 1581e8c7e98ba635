"""The ASGI application: the OpenAI routes over two engines (chat, embeddings) and one upstream."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from binary_semantic_cache.embeddings import DefaultEmbedder, Embedder
from binary_semantic_cache.request_engine import CacheOptions, RequestEngine
from binary_semantic_cache.server.answers import StoredAnswer, answer_usage, load_answer
from binary_semantic_cache.server.chat import ChatCompletions
from binary_semantic_cache.server.embeddings import Embeddings, load_embedding
from binary_semantic_cache.server.protocol import CACHE_HEADER, passed_through, unavailable
from binary_semantic_cache.server.tenants import TenantKeys, load_secret
from binary_semantic_cache.server.upstream import Upstream, UpstreamUnavailable

__all__ = ["DEFAULT_MAX_BODY_BYTES", "ServerConfig", "create_app"]

#: The largest request body taken by default: room for a long chat with a few images.
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
_REDIS_NAMESPACE = "bsc_server"
logger = logging.getLogger("binary_semantic_cache.server")


@dataclass(frozen=True)
class ServerConfig:
    """How the server runs.

    Args:
        upstream: The API root the server stands for, e.g. ``https://api.openai.com/v1``.
        path: A directory to persist the answers in (``chat/`` and ``embeddings/`` inside).
        redis_url: Servers on this Redis share their answers (they need one ``tenant_secret``).
        exact_only: Match every prompt exactly, never by meaning.
        max_body_bytes: Larger request bodies are refused with 413.
        tenant_header: A header naming the tenant instead of the caller's API key.
        tenant_secret: The key of the tenant hash; default: one kept in ``path``, or one per
            process. Servers sharing a cache must share it.
        upstream_api_key: Sent upstream instead of each caller's own key.
        upstream_timeout: Seconds to wait for the upstream's next bytes.
        options: More :class:`~binary_semantic_cache.request_engine.CacheOptions` of the chat
            engine (``similarity_threshold``, ``ttl_seconds``, ``guards``, ``verifier``, ...).
    """

    upstream: str
    path: Path | None = None
    redis_url: str | None = None
    exact_only: bool = False
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    tenant_header: str | None = None
    tenant_secret: str | None = None
    upstream_api_key: str | None = None
    upstream_timeout: float = 600.0
    options: CacheOptions = field(default_factory=lambda: CacheOptions())

    def __post_init__(self) -> None:
        if not self.upstream.startswith(("http://", "https://")):
            msg = f"the upstream must be an http:// or https:// URL, got {self.upstream!r}"
            raise ValueError(msg)
        if self.max_body_bytes < 1:
            msg = f"max_body_bytes must be a positive number of bytes, got {self.max_body_bytes}"
            raise ValueError(msg)
        if self.redis_url is not None and not self.tenant_secret:
            # Each server would otherwise make its own key, and no tenant would ever share.
            msg = "servers sharing a cache through redis_url need one tenant_secret, got none"
            raise ValueError(msg)


def create_app(config: ServerConfig, embedder: Embedder | None = None) -> Starlette:
    """The server's application; the engines open when it starts and close when it stops.

    ``embedder`` embeds the questions (default: the offline
    :class:`~binary_semantic_cache.embeddings.DefaultEmbedder`).
    """
    tenants = TenantKeys(load_secret(config.tenant_secret, config.path), config.tenant_header)
    inner = DefaultEmbedder() if embedder is None else embedder
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        upstream = Upstream(
            config.upstream, api_key=config.upstream_api_key, timeout=config.upstream_timeout
        )
        chat_engine: RequestEngine[StoredAnswer] = _engine(
            inner, config, "chat", load_answer, **config.options
        )
        embedding_engine: RequestEngine[Any] = _engine(inner, config, "embeddings", load_embedding)
        state.update(upstream=upstream, chat=chat_engine, embeddings=embedding_engine)
        state["chat_route"] = ChatCompletions(
            chat_engine,
            upstream,
            tenants,
            embedder_id=inner.model_id,
            exact_only=config.exact_only,
            max_body_bytes=config.max_body_bytes,
        )
        state["embeddings_route"] = Embeddings(
            embedding_engine, upstream, tenants, config.max_body_bytes
        )
        try:
            yield
        finally:
            chat_engine.close()
            embedding_engine.close()
            await upstream.aclose()

    async def chat(http: HttpRequest) -> Response:
        handler: ChatCompletions = state["chat_route"]
        return await handler(http)

    async def embeddings(http: HttpRequest) -> Response:
        handler: Embeddings = state["embeddings_route"]
        return await handler(http)

    async def models(http: HttpRequest) -> Response:
        try:
            response = await state["upstream"].send("GET", "/models", http.headers)
        except UpstreamUnavailable as exc:
            return unavailable(exc)
        return await passed_through(response, {CACHE_HEADER: "miss"})

    async def healthz(http: HttpRequest) -> Response:
        return JSONResponse({"status": "ok", "upstream_circuit": state["upstream"].breaker_state})

    async def metrics(http: HttpRequest) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        from binary_semantic_cache.prometheus import register

        registry = CollectorRegistry()
        register(state["chat"], name="chat", registry=registry)
        register(state["embeddings"], name="embeddings", registry=registry)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    routes = [
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/v1/embeddings", embeddings, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def _engine(
    embedder: Embedder, config: ServerConfig, kind: str, decode: Any, **options: Any
) -> RequestEngine[Any]:
    path = None if config.path is None else config.path / kind
    return RequestEngine(
        embedder,
        decode=decode,
        usage=answer_usage if kind == "chat" else None,
        redis_namespace=f"{_REDIS_NAMESPACE}/{kind}",
        logger=logger,
        **{**options, "path": path, "redis_url": config.redis_url},
    )
