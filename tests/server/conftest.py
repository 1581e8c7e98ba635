from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from binary_semantic_cache.embeddings import DefaultEmbedder
from binary_semantic_cache.server.app import ServerConfig
from binary_semantic_cache.server.fake_upstream import FakeUpstream

from .harness import RunningServer


@pytest.fixture(scope="session")
def embedder() -> DefaultEmbedder:
    return DefaultEmbedder()


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream()
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def server(upstream: FakeUpstream, embedder: DefaultEmbedder) -> Iterator[RunningServer]:
    """One server for the module: each test keeps to its own tenants (fresh API keys)."""
    running = RunningServer(ServerConfig(upstream=upstream.url), embedder)
    yield running
    running.stop()


@pytest.fixture
def key() -> Callable[[], str]:
    """A new API key, so a new tenant, each call."""
    return lambda: f"sk-test-{uuid.uuid4().hex}"


@pytest.fixture
def start_server(
    upstream: FakeUpstream, embedder: DefaultEmbedder
) -> Iterator[Callable[..., RunningServer]]:
    """Starts a server with its own settings; all are stopped after the test."""
    started: list[RunningServer] = []

    def start(**settings: object) -> RunningServer:
        running = RunningServer(ServerConfig(upstream=upstream.url, **settings), embedder)  # type: ignore[arg-type]
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()
