"""Two ``bsc-cache serve`` processes on one real redis-server share their answers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from binary_semantic_cache.server.fake_upstream import FakeUpstream
from tests.redis.server import ROOT, RedisServer, free_port, wait_until

from .test_chat import PARAPHRASE, QUESTION, ask, content


class ServeProcess:
    """``python -m binary_semantic_cache serve`` in its own process, as an operator starts it."""

    def __init__(self, upstream: str, redis_url: str) -> None:
        self.port = free_port()
        env = {**os.environ, "BSC_TENANT_SECRET": "one secret for every server of the fleet"}
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "binary_semantic_cache", "serve",
                "--upstream", upstream, "--redis-url", redis_url, "--port", str(self.port),
            ],
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
        )  # fmt: skip

    def wait_ready(self) -> None:
        def up() -> bool:
            if self.proc.poll() is not None:
                assert self.proc.stderr is not None
                raise AssertionError(f"the server exited: {self.proc.stderr.read().decode()}")
            try:
                return httpx.get(f"http://127.0.0.1:{self.port}/healthz").status_code == 200
            except httpx.TransportError:
                return False

        wait_until(up, timeout=60, what=f"the server on port {self.port}")

    def client(self, key: str) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=f"http://127.0.0.1:{self.port}/v1", api_key=key, max_retries=0
        )

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[FakeUpstream, ServeProcess, ServeProcess]]:
    redis_server = RedisServer(tmp_path)
    redis_server.start()
    upstream = FakeUpstream()
    servers = [ServeProcess(upstream.url, redis_server.url) for _ in range(2)]
    try:
        for server in servers:
            server.wait_ready()
        yield upstream, servers[0], servers[1]
    finally:
        for server in servers:
            server.stop()
        upstream.close()
        redis_server.kill()


def test_an_answer_stored_through_one_server_is_served_by_the_other(
    two_servers: tuple[FakeUpstream, ServeProcess, ServeProcess],
) -> None:
    upstream, first, second = two_servers
    stored, _ = ask(first.client("sk-team-a"), QUESTION)
    deadline = time.monotonic() + 10
    while True:  # the other server follows Redis a moment later
        served, headers = ask(second.client("sk-team-a"), PARAPHRASE)
        if headers["x-bsc-cache"] == "hit" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert headers["x-bsc-cache"] == "hit", "the second server never saw the first one's answer"
    assert content(served) == content(stored)
    calls = len(upstream.chat_calls())
    # Shared within a tenant only: another key through either server is a miss.
    _, other = ask(second.client("sk-team-b"), QUESTION)
    assert other["x-bsc-cache"] == "miss"
    assert len(upstream.chat_calls()) == calls + 1
