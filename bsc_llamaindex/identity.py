"""Stable identities for models and call arguments, without secrets or transport settings.

A model's identity decides which cached answers it may reuse: two models that can answer the
same prompt differently must differ, and changing a key, a URL or a timeout must not lose the
cache. Identities are SHA-256 digests, so nothing read from a model's configuration is kept.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from enum import Enum
from typing import Any

from llama_index.core.bridge.pydantic import BaseModel

__all__ = ["canonical_json", "component_identity"]

# Name parts of fields that hold credentials or say how to reach a service, not what it answers.
_TRANSPORT_PARTS = frozenset(
    {
        "apikey",
        "auth",
        "authorization",
        "base",
        "batch",
        "cache",
        "callback",
        "client",
        "credential",
        "credentials",
        "endpoint",
        "header",
        "headers",
        "host",
        "http",
        "key",
        "limiter",
        "org",
        "organization",
        "password",
        "port",
        "proxies",
        "proxy",
        "region",
        "retries",
        "retry",
        "secret",
        "session",
        "timeout",
        "token",
        "uri",
        "url",
        "workers",
    }
)


def _is_transport(name: str) -> bool:
    return any(part in _TRANSPORT_PARTS for part in name.lower().split("_"))


def _without_transport(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            str(k): _without_transport(v) for k, v in value.items() if not _is_transport(str(k))
        }
    if isinstance(value, (list, tuple)):
        return [_without_transport(v) for v in value]
    return value


def _jsonable(value: Any) -> Any:
    """Fallback for ``json.dumps``: stable forms for what JSON cannot hold."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="python")
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes):
        return "bytes:" + hashlib.sha256(value).hexdigest()
    if isinstance(value, (set, frozenset)):
        return sorted(map(repr, value))
    # Functions, clients and other objects: their type, never their repr (it can hold an
    # address, which would make every process see a different model).
    kind = value if isinstance(value, type) else type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


def canonical_json(value: Any) -> str:
    """Return ``value`` as JSON with sorted keys; objects JSON cannot hold become stable names."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=_jsonable)


def component_identity(component: BaseModel) -> str:
    """Return a hex digest of a LlamaIndex model's class and answer-relevant settings.

    Fields whose names mark credentials or transport (``api_key``, ``api_base``, ``timeout``,
    ``max_retries``, ``default_headers``, ...) are left out, at any depth.

    Example:
        .. code-block:: python

            from llama_index.core.llms import MockLLM

            assert component_identity(MockLLM(max_tokens=5)) != component_identity(MockLLM())
    """
    kind = type(component)
    fields = _without_transport(component.model_dump(mode="python"))
    payload = canonical_json({"class": f"{kind.__module__}.{kind.__qualname__}", "fields": fields})
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()
