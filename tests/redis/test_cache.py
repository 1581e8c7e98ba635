"""One process: the Python class, local mode, bounds, outages, credentials, payload format."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from binary_semantic_cache import _core
from binary_semantic_cache.cache import BinarySemanticCache
from binary_semantic_cache.redis_sync import SyncOptions, redact_url

from .server import DIM, SEED, RedisServer, free_port, vec, wait_until

FAST = SyncOptions(block_ms=100, reconnect_max=0.1, connect_timeout=0.2, write_timeout=0.5)


def shared(url: str, **kwargs: object) -> BinarySemanticCache:
    return BinarySemanticCache(
        _core.BinaryEncoder(DIM, seed=SEED),
        similarity_threshold=0.95,
        redis_url=url,
        namespace="t",
        redis_options=kwargs.pop("redis_options", FAST),  # type: ignore[arg-type]
        **kwargs,
    )


@pytest.fixture
def pair(redis_server: RedisServer) -> Iterator[tuple[BinarySemanticCache, BinarySemanticCache]]:
    with shared(redis_server.url) as a, shared(redis_server.url) as b:
        yield a, b


def test_without_redis_it_is_the_core_cache() -> None:
    cache = BinarySemanticCache(_core.BinaryEncoder(DIM, seed=SEED), 10, 0.95, ttl_seconds=60)
    # lookups are the core's own method: no cost added
    assert BinarySemanticCache.get is _core.BinarySemanticCache.get
    assert (cache.max_entries, cache.similarity_threshold, cache.ttl_seconds) == (10, 0.95, 60)
    lid = cache.put(vec(1), "r1")
    assert cache.get(vec(1)).response == "r1"  # type: ignore[union-attr]
    assert cache.put_batch(np.stack([vec(2), vec(3)]), ["a", "b"]) != []
    assert cache.delete(lid) and cache.get(vec(1)) is None
    assert cache.clear() == 2
    assert not any(key.startswith("redis_") for key in cache.stats())
    cache.close()


def test_bad_input_raises_before_anything_is_shared(
    pair: tuple[BinarySemanticCache, BinarySemanticCache], redis_server: RedisServer
) -> None:
    a, _ = pair
    with pytest.raises(ValueError, match="dimensions"):
        a.put(np.ones(DIM + 1, dtype=np.float32), "x")
    with pytest.raises(TypeError, match="JSON-serialisable"):
        a.put(vec(1), object())
    with pytest.raises(ValueError, match="ttl_seconds"):
        a.put(vec(1), "x", ttl_seconds=0)
    with pytest.raises(ValueError, match="one response per embedding"):
        a.put_batch(np.stack([vec(1), vec(2)]), ["x"])
    assert len(a) == 0
    assert redis_server.client().zcard("{bsc:t}:index") == 0


def test_batches_and_partitions_are_shared(
    pair: tuple[BinarySemanticCache, BinarySemanticCache],
) -> None:
    a, b = pair
    ids = a.put_batch(np.stack([vec(k) for k in range(5)]), [f"r{k}" for k in range(5)], "p")
    assert len(set(ids)) == 5
    wait_until(lambda: len(b) == 5)
    assert b.get(vec(2), partition="p").response == "r2"  # type: ignore[union-attr]
    assert b.get(vec(2)) is None  # another partition


def test_max_entries_holds_across_instances(redis_server: RedisServer) -> None:
    with (
        shared(redis_server.url, max_entries=10) as a,
        shared(redis_server.url, max_entries=10) as b,
    ):
        for k in range(25):
            (a if k % 2 else b).put(vec(k), f"r{k}")
        newest = set(range(15, 25))
        for cache in (a, b):
            wait_until(
                lambda c=cache: {k for k in range(25) if c.get(vec(k)) is not None} == newest
            )
        assert redis_server.client().zcard("{bsc:t}:index") == 10


def test_payloads_are_stored_as_json_never_pickle(
    pair: tuple[BinarySemanticCache, BinarySemanticCache], redis_server: RedisServer
) -> None:
    a, _ = pair
    a.put(vec(1), {"answer": "Paris", "n": 1})
    a.put(vec(2), b"\x00raw")
    r = redis_server.client()
    assert r.hget("{bsc:t}:e:1", "k") == b"j"
    assert r.hget("{bsc:t}:e:1", "r") == b'{"answer":"Paris","n":1}'
    assert r.hget("{bsc:t}:e:2", "r") == b"\x00raw"
    assert np.array_equal(np.frombuffer(r.hget("{bsc:t}:e:1", "v"), np.float32), vec(1))


def test_unreachable_redis_queues_writes_and_replays_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="binary_semantic_cache")
    server = RedisServer(tmp_path)
    # nothing listens yet: construction and calls must neither raise nor wait
    cache = shared(server.url)
    try:
        lid = cache.put(vec(1), "r1")
        cache.put(vec(2), "r2")
        cache.delete(lid)
        assert cache.get(vec(2)).response == "r2"  # type: ignore[union-attr]
        stats = cache.stats()
        assert stats["redis_connected"] == 0
        # the put of 1 and its delete cancel out before they reach Redis
        assert stats["redis_queued_writes"] == 1
        # several reconnect attempts fail meanwhile (every 0.1 s), but the outage is logged once
        time.sleep(0.5)
        assert caplog.text.count("unreachable") == 1
        server.start()
        wait_until(lambda: cache.stats()["redis_connected"] == 1, what="reconnect")
        assert cache.stats()["redis_queued_writes"] == 0
        with shared(server.url) as other:
            assert other.get(vec(2)).response == "r2"  # type: ignore[union-attr]
            assert other.get(vec(1)) is None
        assert caplog.text.count("reconnected") == 1
    finally:
        cache.close()
        server.kill()


# The feed thread does not retry for a minute: writes still queued at close() are close()'s.
NO_RETRY = SyncOptions(
    block_ms=100, reconnect_min=60, reconnect_max=60, connect_timeout=0.2, write_timeout=0.5
)


def test_close_sends_writes_queued_during_an_outage(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="binary_semantic_cache")
    server = RedisServer(tmp_path)
    cache = shared(server.url, redis_options=NO_RETRY)
    try:
        cache.put(vec(1), "r1")
        cache.clear()
        cache.put(vec(2), "r2")
        server.start()
        stats = cache.stats()
        assert (stats["redis_connected"], stats["redis_queued_writes"]) == (0, 2)
        cache.close()
        # replayed in order: the clear did not remove the put queued after it
        assert server.client().zcard("{bsc:t}:index") == 1
        with shared(server.url) as other:
            assert other.get(vec(2)).response == "r2"  # type: ignore[union-attr]
            assert other.get(vec(1)) is None
        assert "not sent" not in caplog.text
    finally:
        cache.close()
        server.kill()


def test_close_with_redis_slow_stops_sending_at_close_timeout(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="binary_semantic_cache")
    server = RedisServer(tmp_path)
    options = dataclasses.replace(NO_RETRY, close_timeout=0.5)
    cache = shared(server.url, redis_options=options)
    stop = threading.Event()

    def crawl() -> None:
        # Redis answers, but only for 2 ms in every 200: each write waits, none times out.
        assert server.proc is not None
        while not stop.is_set():
            os.kill(server.proc.pid, signal.SIGSTOP)
            time.sleep(0.2)
            os.kill(server.proc.pid, signal.SIGCONT)
            time.sleep(0.002)

    slow = threading.Thread(target=crawl)
    try:
        for k in range(200):
            cache.put(vec(k), f"r{k}")  # queued: the server is not up yet
        server.start()
        slow.start()
        started = time.monotonic()
        cache.close()
        # at most one more write (under a second) after the 0.5 s; all 200 would take seconds
        assert time.monotonic() - started < 2.0
        dropped = [r.getMessage() for r in caplog.records if "not sent" in r.getMessage()]
        assert len(dropped) == 1
        assert "close_timeout of 0.5 s passed" in dropped[0]
        left = int(dropped[0].split("closed with ")[1].split()[0])
        assert 0 < left < 200
    finally:
        stop.set()
        if slow.is_alive():
            slow.join()
        assert server.proc is not None
        os.kill(server.proc.pid, signal.SIGCONT)
        server.kill()


@pytest.mark.parametrize("outage", ["refused", "paused"])
def test_close_with_redis_down_is_prompt_and_reports_what_it_dropped(
    outage: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="binary_semantic_cache")
    server = RedisServer(tmp_path)
    if outage == "paused":
        # connections are accepted but never answered: only the socket timeouts end a write
        server.start()
        assert server.proc is not None
        os.kill(server.proc.pid, signal.SIGSTOP)
    try:
        cache = shared(server.url, redis_options=NO_RETRY)
        for k in range(10):
            cache.put(vec(k), f"r{k}")
        assert cache.stats()["redis_queued_writes"] == 10
        started = time.monotonic()
        cache.close()
        # paused: the feed thread's last read and the first write each end at a 0.5 s socket
        # timeout; a timeout per queued write would take 5 s
        assert time.monotonic() - started < 2.0
        dropped = [r for r in caplog.records if "not sent" in r.getMessage()]
        assert len(dropped) == 1
        assert dropped[0].levelno == logging.WARNING
        assert "10 queued writes" in dropped[0].getMessage()
    finally:
        server.kill()


def test_writes_beyond_the_queue_bound_are_dropped_and_counted() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    with shared(url, redis_options=SyncOptions(max_queued_writes=3, connect_timeout=0.2)) as cache:
        for k in range(5):
            cache.put(vec(k), f"r{k}")
        stats = cache.stats()
        assert (stats["redis_queued_writes"], stats["redis_dropped_writes"]) == (3, 2)
        # dropped writes still serve this process
        assert all(cache.get(vec(k)) is not None for k in range(5))


def test_credentials_pass_through_and_are_never_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = RedisServer(tmp_path, "--requirepass", "s3cr3t-pw")
    server.start()
    url = f"redis://:s3cr3t-pw@127.0.0.1:{server.port}/0"
    caplog.set_level(logging.DEBUG, logger="binary_semantic_cache")
    try:
        with shared(url) as a, shared(url) as b:
            a.put(vec(1), "r1")
            wait_until(lambda: b.get(vec(1)) is not None)
            assert a.stats()["redis_connected"] == 1
            server.kill()
            a.put(vec(2), "r2")
            wait_until(lambda: a.stats()["redis_connected"] == 0)
        assert "127.0.0.1" in caplog.text
        assert "s3cr3t" not in caplog.text
    finally:
        server.kill()


def test_redact_url() -> None:
    assert redact_url("rediss://u:pw@h:6380/1") == "rediss://u:***@h:6380/1"
    assert redact_url("redis://:pw@h") == "redis://:***@h"
    assert redact_url("redis://h:6379/0?password=pw") == "redis://h:6379/0?***"
    assert redact_url("redis://h:6379") == "redis://h:6379"


def test_default_embedder_end_to_end(redis_server: RedisServer) -> None:
    from binary_semantic_cache.embeddings import DefaultEmbedder

    embedder = DefaultEmbedder()
    encoder = _core.BinaryEncoder(embedder.dim)
    with (
        BinarySemanticCache(encoder, redis_url=redis_server.url, namespace="e2e") as a,
        BinarySemanticCache(encoder, redis_url=redis_server.url, namespace="e2e") as b,
    ):
        question, paraphrase, other = embedder.embed(
            [
                "What is the capital of France?",
                "What's the capital city of France?",
                "How do I bake sourdough bread?",
            ]
        )
        a.put(question, "Paris")
        wait_until(lambda: len(b) == 1)
        hit = b.get(paraphrase)
        assert hit is not None and hit.response == "Paris"
        assert b.get(other) is None


def test_concurrent_writers_converge(
    pair: tuple[BinarySemanticCache, BinarySemanticCache],
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    a, b = pair

    def work(t: int) -> set[int]:
        cache = a if t % 2 else b
        kept = set()
        for k in range(t * 100, t * 100 + 40):
            lid = cache.put(vec(k), f"r{k}")
            if k % 3 == 0:
                cache.delete(lid)
            else:
                kept.add(k)
        return kept

    with ThreadPoolExecutor(4) as pool:
        expected = set().union(*pool.map(work, range(4)))
    keys = [k for t in range(4) for k in range(t * 100, t * 100 + 40)]
    for cache in (a, b):
        wait_until(lambda c=cache: {k for k in keys if c.get(vec(k)) is not None} == expected)
        assert len(cache) == len(expected)


def test_clear_prefix_propagates(pair: tuple[BinarySemanticCache, BinarySemanticCache]) -> None:
    a, b = pair
    partitions = {1: "t1:a", 2: "t1:b", 3: "t2:a", 4: ""}
    for k, p in partitions.items():
        a.put(vec(k), f"r{k}", partition=p)
    wait_until(lambda: len(b) == 4)
    assert b.clear_prefix("t1:") == 2
    for cache in (a, b):
        wait_until(lambda c=cache: {k for k, p in partitions.items() if c.get(vec(k), p)} == {3, 4})


def test_reopened_path_is_replaced_by_the_store_at_first_sync(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    path = tmp_path / "local"
    with shared(redis_server.url, path=path) as a:
        a.put(vec(1), "r1")
        a.put(vec(2), "r2")
    with shared(redis_server.url) as b:
        b.delete(b.get(vec(1)).id)  # type: ignore[union-attr]
        b.put(vec(3), "r3")
    with shared(redis_server.url, path=path) as a:
        # exactly the store's entries: none lost, none twice, none deleted meanwhile
        assert len(a) == 2
        assert {k for k in (1, 2, 3) if a.get(vec(k)) is not None} == {2, 3}
