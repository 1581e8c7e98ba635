"""Test doubles and data shared by the tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from binary_semantic_cache.embeddings import DefaultEmbedder
from binary_semantic_cache.embeddings.base import Vectors


class CountingDefault(DefaultEmbedder):
    """The default model, recording the texts of each of its runs in ``runs``."""

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.runs.append(list(texts))
        return super().embed(texts)


class BrokenEmbedder:
    """An embedder whose service is down: every call raises."""

    dim = 384
    model_id = "broken"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        raise ConnectionError("embedding service unreachable")

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        raise ConnectionError("embedding service unreachable")


@contextlib.contextmanager
def running_redis(workdir: Path) -> Iterator[str]:
    """A real redis-server (tests/redis's) for the duration of the block; yields its URL."""
    from tests.redis.server import RedisServer

    server = RedisServer(workdir)
    server.start()
    try:
        yield server.url
    finally:
        server.kill()


@contextlib.contextmanager
def running_redis_cluster(workdir: Path, namespace: str) -> Iterator[str]:
    """A real three-node Redis Cluster (tests/redis's) for the block; yields the URL of a node
    that does not serve ``namespace`` (the Redis one), so every command must be redirected."""
    from binary_semantic_cache.redis_sync.keys import Keys
    from tests.redis.server import ClusterServers

    cluster = ClusterServers(workdir)
    try:
        cluster.start()
        owner = cluster.owner(Keys.of(namespace).prefix)
        yield next(node.url for node in cluster.nodes if node is not owner)
    finally:
        cluster.kill()


# Labelled question pairs (stored, new, one answer serves both) for calibration tests.
LABELLED_PAIRS = [
    ("How do I reset my password?", "I forgot my password, how do I reset it?", True),
    ("How do I reset my password?", "How can I reset my password?", True),
    ("What is the capital of France?", "What's the capital city of France?", True),
    ("How do I reset my password?", "How do I change my username?", False),
    ("What is the capital of France?", "What is the capital of Germany?", False),
]
