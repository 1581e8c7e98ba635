"""The tenant of a request: a keyed hash of its API key, or of a header the operator names.

The namespace never holds the key itself, so neither stored partitions, Redis keys nor logs can
leak it; the hash is keyed (HMAC) so a namespace cannot be checked against guessed keys without
the server's secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from pathlib import Path

__all__ = ["ANONYMOUS", "MissingTenantError", "TenantKeys", "load_secret"]

#: The tenant of requests that carry no API key (and no tenant header is configured).
ANONYMOUS = "anonymous"
_SECRET_FILE = "tenant.key"


class MissingTenantError(ValueError):
    """The request lacks the header the operator named as the tenant."""


class TenantKeys:
    """Maps a request's headers to its tenant namespace.

    Args:
        secret: The HMAC key; servers sharing a cache (through Redis) must share it.
        header: A header naming the tenant instead of the API key; ``None``: the API key.
    """

    def __init__(self, secret: bytes, header: str | None = None) -> None:
        if len(secret) < 16:
            msg = f"the tenant secret must have at least 16 bytes, got {len(secret)}"
            raise ValueError(msg)
        self._secret = secret
        self._header = None if header is None else header.lower()

    def namespace(self, headers: Mapping[str, str]) -> str:
        """The tenant of a request with ``headers`` (names in lower case, as ASGI gives them).

        Raises:
            MissingTenantError: the configured tenant header is absent or empty.
        """
        if self._header is not None:
            value = headers.get(self._header, "").strip()
            if not value:
                msg = f"expected a {self._header} header naming the tenant, got none"
                raise MissingTenantError(msg)
            return "h:" + self._digest("header", value)
        key = api_key(headers)
        return ANONYMOUS if key is None else "k:" + self._digest("key", key)

    def _digest(self, kind: str, value: str) -> str:
        message = f"{kind}\x1f{value}".encode("utf-8", "surrogatepass")
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:32]


def api_key(headers: Mapping[str, str]) -> str | None:
    """The caller's API key: ``Authorization: Bearer KEY`` or Azure's ``api-key: KEY``."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return headers.get("api-key", "").strip() or None


def load_secret(configured: str | None, directory: Path | None) -> bytes:
    """The HMAC key: ``configured`` (the operator's), else one kept in ``directory`` (made on
    first use, so a restarted server maps keys to the same tenants), else a new one per process
    (an in-memory cache dies with the process anyway)."""
    if configured:
        return configured.encode("utf-8")
    if directory is None:
        return secrets.token_bytes(32)
    path = directory / _SECRET_FILE
    directory.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("xb") as out:  # exclusive: two servers starting at once keep one key
            path.chmod(0o600)
            out.write(secrets.token_bytes(32))
    except FileExistsError:
        pass
    return path.read_bytes()
