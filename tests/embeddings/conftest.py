"""Fixtures: a real embeddings HTTP server on 127.0.0.1, and a way to forbid sockets."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.embeddings.http_server import EmbeddingServer


@pytest.fixture
def server() -> Iterator[EmbeddingServer]:
    srv = EmbeddingServer()
    yield srv
    srv.close()


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening an internet socket in the test fails loudly.

    Local socket pairs stay allowed: asyncio's event loop wakes itself up through one.
    """
    real_socket = socket.socket

    class GuardedSocket(real_socket):
        def __init__(
            self, family: int = -1, type: int = -1, proto: int = -1, fileno: Any = None
        ) -> None:
            if fileno is None and family in (-1, socket.AF_INET, socket.AF_INET6):
                raise RuntimeError("network access attempted in an offline test")
            super().__init__(family, type, proto, fileno)

    def refuse(*args: Any, **kwargs: Any) -> socket.socket:
        raise RuntimeError("network access attempted in an offline test")

    monkeypatch.setattr(socket, "socket", GuardedSocket)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OLLAMA_HOST"):
        monkeypatch.delenv(name, raising=False)
