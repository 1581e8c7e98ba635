"""Concurrent identical requests through the server make one upstream call (single flight)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

from binary_semantic_cache.embeddings import DefaultEmbedder
from binary_semantic_cache.server.app import ServerConfig
from binary_semantic_cache.server.fake_upstream import FakeUpstream, Scripted

from .harness import RunningServer

QUESTION = "How long is the warranty on the Acme kettle?"
BURST = 20


@pytest.fixture
def slow_upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream(latency=0.5)
    yield fake
    fake.close()


@pytest.fixture
def server(slow_upstream: FakeUpstream, embedder: DefaultEmbedder) -> Iterator[RunningServer]:
    running = RunningServer(ServerConfig(upstream=slow_upstream.url), embedder)
    yield running
    running.stop()


def burst(client: openai.OpenAI) -> list[str | BaseException]:
    def ask(_: int) -> str | BaseException:
        try:
            reply = client.chat.completions.create(
                model="gpt-test", messages=[{"role": "user", "content": QUESTION}]
            )
        except openai.APIStatusError as exc:
            return exc
        return str(reply.choices[0].message.content)

    with ThreadPoolExecutor(BURST) as pool:
        return list(pool.map(ask, range(BURST)))


def test_a_burst_of_one_question_makes_one_upstream_call(
    server: RunningServer, slow_upstream: FakeUpstream
) -> None:
    answers = burst(server.client(f"sk-{uuid.uuid4().hex}"))
    assert len(set(answers)) == 1 and isinstance(answers[0], str)
    assert len(slow_upstream.chat_calls()) == 1


def test_an_upstream_error_sends_the_waiters_upstream_at_once(
    server: RunningServer, slow_upstream: FakeUpstream
) -> None:
    slow_upstream.then(Scripted(500, {"error": {"message": "boom"}}))
    started = time.monotonic()
    answers = burst(server.client(f"sk-{uuid.uuid4().hex}", max_retries=0))
    elapsed = time.monotonic() - started
    errors = [a for a in answers if isinstance(a, BaseException)]
    assert len(errors) == 1 and errors[0].status_code == 500  # type: ignore[attr-defined]
    assert all(isinstance(a, str) for a in answers if a not in errors)
    assert elapsed < 10  # woken by the failure, not by the 30 s bound
    assert len(slow_upstream.chat_calls()) >= 2
