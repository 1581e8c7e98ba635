"""``bsc-cache serve``: its arguments, and running the application under uvicorn.

Imports only argparse until it runs, so ``bsc-cache`` works without the ``server`` extra.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_serve_parser"]

_TENANT_SECRET_ENV = "BSC_TENANT_SECRET"
_UPSTREAM_KEY_ENV = "BSC_UPSTREAM_API_KEY"


def add_serve_parser(commands: Any) -> None:
    """Add ``serve`` to the command line's subparsers."""
    serve = commands.add_parser(
        "serve",
        help="an OpenAI-compatible caching server in front of an upstream API",
        description=(
            "Serve /v1/chat/completions, /v1/embeddings and /v1/models from the cache, in front "
            f"of --upstream. Tenants are keyed by the caller's API key hashed with "
            f"${_TENANT_SECRET_ENV} (needed with --redis-url); ${_UPSTREAM_KEY_ENV}, when set, "
            "is sent upstream instead of each caller's key."
        ),
    )
    serve.add_argument(
        "--upstream", required=True, metavar="URL", help="e.g. https://api.openai.com/v1"
    )
    store = serve.add_mutually_exclusive_group()
    store.add_argument("--path", type=Path, metavar="DIR", help="persist the answers in DIR")
    store.add_argument("--redis-url", metavar="URL", help="share the answers through Redis")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8100)
    serve.add_argument("--exact-only", action="store_true", help="never match by meaning")
    serve.add_argument("--max-body-bytes", type=int, metavar="N", help="larger bodies get 413")
    serve.add_argument("--tenant-header", metavar="NAME", help="tenant from this header")
    serve.add_argument("--similarity-threshold", type=float, metavar="COS")
    serve.add_argument("--ttl-seconds", type=float, metavar="S")
    serve.add_argument(
        "--embedder",
        default="default",
        metavar="NAME",
        help="default, openai:MODEL or ollama:MODEL",
    )
    serve.set_defaults(run=_serve)


def _serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from binary_semantic_cache.server.app import ServerConfig, create_app
    except ImportError as exc:
        print(f'bsc-cache serve needs: pip install "bsc-cache[server]" ({exc})', file=sys.stderr)
        return 1
    from binary_semantic_cache.cli import _embedder
    from binary_semantic_cache.request_engine import CacheOptions

    options = CacheOptions()
    if args.similarity_threshold is not None:
        options["similarity_threshold"] = args.similarity_threshold
    if args.ttl_seconds is not None:
        options["ttl_seconds"] = args.ttl_seconds
    extra: dict[str, Any] = {}
    if args.max_body_bytes is not None:
        extra["max_body_bytes"] = args.max_body_bytes
    config = ServerConfig(
        upstream=args.upstream,
        path=args.path,
        redis_url=args.redis_url,
        exact_only=args.exact_only,
        tenant_header=args.tenant_header,
        tenant_secret=os.environ.get(_TENANT_SECRET_ENV),
        upstream_api_key=os.environ.get(_UPSTREAM_KEY_ENV),
        options=options,
        **extra,
    )
    app = create_app(config, _embedder(args.embedder))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
