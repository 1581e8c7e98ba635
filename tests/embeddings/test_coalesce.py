"""Concurrent calls (async, and from threads) share model runs: with the default model, and
against a real server on 127.0.0.1, where an input the server refuses fails only its caller."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from binary_semantic_cache.embeddings import (
    InputTooLongError,
    InvalidInputError,
    OpenAIEmbedder,
)
from binary_semantic_cache.embeddings.base import Vectors
from binary_semantic_cache.embeddings.coalesce import CoalescingEmbedder
from tests.doubles import CountingDefault
from tests.embeddings.http_server import Action, EmbeddingServer

QUESTIONS = [f"How do I reset the password of account {i}?" for i in range(40)]


TOO_LONG = "this question has far more words than the server takes"


def only_the_long_one_failed(
    texts: list[str], results: list[Vectors | BaseException], server: EmbeddingServer
) -> None:
    for text, result in zip(texts, results, strict=True):
        if text == TOO_LONG:
            assert isinstance(result, InputTooLongError), result
        else:
            assert isinstance(result, np.ndarray), result
            np.testing.assert_allclose(result, server.expected([text]), atol=1e-6)


def refusing_embedder(server: EmbeddingServer) -> OpenAIEmbedder:
    """An OpenAI client of the test server, which refuses inputs over six words."""
    server.context_words = 6
    return OpenAIEmbedder(
        "test-model",
        api_key="sk-test",
        base_url=f"{server.url}/v1",
        token_counter=lambda text: len(text.split()),
    )


@pytest.fixture(scope="module")
def model() -> CountingDefault:
    return CountingDefault()


def test_concurrent_calls_share_runs_and_get_their_own_vectors(model: CountingDefault) -> None:
    model.runs.clear()
    coalescing = CoalescingEmbedder(model, max_batch=16)

    async def main() -> list[Vectors]:
        return await asyncio.gather(*(coalescing.aembed([q]) for q in QUESTIONS))

    vectors = asyncio.run(main())
    assert len(model.runs) < len(QUESTIONS) / 4
    assert max(len(run) for run in model.runs) <= 16
    assert sorted(t for run in model.runs for t in run) == sorted(QUESTIONS)
    alone = model.embed(QUESTIONS)
    for q, got, expected in zip(QUESTIONS, vectors, alone, strict=True):
        assert got.shape == (1, model.dim), q
        assert float(got[0] @ expected) >= 0.9999, q


def test_a_lone_call_runs_at_once_and_repeats_in_a_run_are_embedded_once(
    model: CountingDefault,
) -> None:
    coalescing = CoalescingEmbedder(model)
    model.runs.clear()
    asyncio.run(coalescing.aembed(["What is BM25?"]))
    assert model.runs == [["What is BM25?"]]

    async def repeats() -> list[Vectors]:
        return await asyncio.gather(*(coalescing.aembed(["Same?", "Other?"]) for _ in range(5)))

    model.runs.clear()
    results = asyncio.run(repeats())
    assert sum(len(run) for run in model.runs) <= 2 + 2  # the first call may run alone
    for result in results:
        np.testing.assert_array_equal(result, results[0])


def test_a_refused_input_fails_only_its_caller(server: EmbeddingServer) -> None:
    coalescing = CoalescingEmbedder(refusing_embedder(server))
    texts = ["short one", TOO_LONG, "short two", "short three"]

    async def main() -> list[Vectors | BaseException]:
        return await asyncio.gather(
            *(coalescing.aembed([t]) for t in texts), return_exceptions=True
        )

    results = asyncio.run(main())
    only_the_long_one_failed(texts, results, server)
    # The four calls shared one run, which was refused; then each of them went alone.
    assert [len(s.body["input"]) for s in server.seen] == [4, 1, 1, 1, 1]


def test_bad_input_and_a_cancelled_caller(model: CountingDefault) -> None:
    coalescing = CoalescingEmbedder(model)
    with pytest.raises(ValueError, match="max_batch must be at least 1, got 0"):
        CoalescingEmbedder(model, max_batch=0)
    with pytest.raises(InvalidInputError, match="expected str at index 0, got int"):
        asyncio.run(coalescing.aembed([3]))  # type: ignore[list-item]

    async def cancel_one() -> Vectors:
        first = asyncio.ensure_future(coalescing.aembed(["first"]))
        cancelled = asyncio.ensure_future(coalescing.aembed(["cancelled"]))
        kept = asyncio.ensure_future(coalescing.aembed(["kept"]))
        await asyncio.sleep(0)
        cancelled.cancel()
        await first
        return await kept

    model.runs.clear()
    kept = asyncio.run(cancel_one())
    assert kept.shape == (1, model.dim)
    assert all("cancelled" not in run for run in model.runs)


class HeldFirstRun(CountingDefault):
    """The default model whose first run waits for ``release``, so the calls of other threads
    queue behind it (on a busy machine threads otherwise arrive one at a time)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not self.runs:
            self.release.wait(timeout=10)
        return super().embed(texts)


def test_calls_from_threads_share_runs_and_each_gets_its_own_vectors() -> None:
    callers = 12
    model = HeldFirstRun()
    coalescing = CoalescingEmbedder(model, max_batch=8)
    with ThreadPoolExecutor(callers) as pool:
        first = pool.submit(coalescing.embed, [QUESTIONS[0]])
        time.sleep(0.1)  # the first call leads, and its run is held
        rest = [pool.submit(coalescing.embed, [q]) for q in QUESTIONS[1:callers]]
        time.sleep(0.3)  # the other calls queue behind it
        model.release.set()
        results = [first.result(timeout=30), *(f.result(timeout=30) for f in rest)]
    # The first alone, then the eleven queued in runs of at most eight.
    assert [len(run) for run in model.runs] == [1, 8, 3]
    alone = model.embed(QUESTIONS[:callers])
    for got, expected in zip(results, alone, strict=True):
        assert got.shape == (1, model.dim)
        assert float(got[0] @ expected) >= 0.9999


def test_a_refused_input_from_a_thread_fails_only_its_caller(server: EmbeddingServer) -> None:
    coalescing = CoalescingEmbedder(refusing_embedder(server))
    server.then(Action(delay=0.3))  # the first run is slow, so the others queue behind it
    texts = ["first", "short one", TOO_LONG, "short two"]

    def call(text: str) -> Vectors | BaseException:
        try:
            return coalescing.embed([text])
        except BaseException as exc:  # the test looks at what each caller got
            return exc

    with ThreadPoolExecutor(len(texts)) as pool:
        first = pool.submit(call, texts[0])
        time.sleep(0.1)
        rest = [pool.submit(call, t) for t in texts[1:]]
        results = [first.result(timeout=30), *(f.result(timeout=30) for f in rest)]
    only_the_long_one_failed(texts, results, server)
    # The first alone, the three queued behind it together (refused), then each alone.
    assert [len(s.body["input"]) for s in server.seen] == [1, 3, 1, 1, 1]


def test_many_threads_each_get_their_own_vectors(model: CountingDefault) -> None:
    # No call is lost or answered with another's rows when leads pass from thread to thread.
    coalescing = CoalescingEmbedder(model, max_batch=5)
    texts = [[q, f"{q} Thanks!"] for q in QUESTIONS[:16]]
    expected = {t: model.embed([t])[0] for pair in texts for t in pair}
    model.runs.clear()

    def calls(pair: list[str]) -> list[bool]:
        outcomes = []
        for _ in range(10):
            rows = coalescing.embed(pair)
            outcomes.append(
                all(float(v @ expected[t]) >= 0.9999 for v, t in zip(rows, pair, strict=True))
            )
        return outcomes

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(calls, texts, timeout=120))
    assert all(all(o) for o in outcomes)
    assert sum(len(run) for run in model.runs) == 16 * 10 * 2  # each text once a call
    assert max(len(run) for run in model.runs) <= 5
