from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .server import RedisServer, Worker


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.fixture
def spawn(redis_server: RedisServer) -> Iterator[Callable[..., Worker]]:
    """Starts worker processes on the test's server; all are stopped after the test."""
    started: list[Worker] = []

    def start(**options: Any) -> Worker:
        worker = Worker(redis_server.url, **options)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
