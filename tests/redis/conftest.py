from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .server import ClusterServers, RedisServer, Worker


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.fixture
def redis_cluster(tmp_path: Path) -> Iterator[ClusterServers]:
    cluster = ClusterServers(tmp_path)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.kill()


def _spawner(url: str, **defaults: Any) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(**options: Any) -> Worker:
        worker = Worker(url, **{**defaults, **options})
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def spawn(redis_server: RedisServer) -> Iterator[Callable[..., Worker]]:
    """Starts worker processes on the test's server; all are stopped after the test."""
    yield from _spawner(redis_server.url)


@pytest.fixture
def spawn_in_cluster(redis_cluster: ClusterServers) -> Iterator[Callable[..., Worker]]:
    """Starts worker processes on the test's cluster; all are stopped after the test."""
    yield from _spawner(redis_cluster.url, cluster=True)
