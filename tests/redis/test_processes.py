"""Several processes share one cache through a real redis-server."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from .server import RedisServer, Worker, wait_until


def start_many(spawn: Callable[..., Worker], n: int) -> list[Worker]:
    # Started together: each pays the interpreter start-up, not the others'.
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: spawn(), range(n)))


def converge(workers: list[Worker], keys: range | list[int], expected: set[int]) -> None:
    for w in workers:
        wait_until(lambda w=w: w.present(keys) == expected, what=f"worker {w.proc.pid} to converge")


@pytest.mark.parametrize("n", [2, 4])
def test_a_put_in_one_process_is_found_in_the_others(spawn: Callable[..., Worker], n: int) -> None:
    workers = start_many(spawn, n)
    for i, w in enumerate(workers):
        for k in range(i * 10, i * 10 + 10):
            w.call("put", key=k, response=f"r{k}")
    converge(workers, range(n * 10 + 5), set(range(n * 10)))
    # A structured response comes back as it was given, in another process.
    workers[0].call("put", key=999, response={"text": "Paris", "n": [1, 2.5, None]})
    wait_until(lambda: workers[-1].call("get", key=999) is not None)
    assert workers[-1].call("get", key=999) == {"text": "Paris", "n": [1, 2.5, None]}


def test_delete_and_clear_propagate(spawn: Callable[..., Worker]) -> None:
    a, b = start_many(spawn, 2)
    ids = {k: a.call("put", key=k, response=f"r{k}") for k in range(10)}
    for k in range(10, 15):
        b.call("put", key=k, response=f"r{k}", partition="p")
    converge([a, b], range(10), set(range(10)))

    a.call("delete", id=ids[3])
    converge([a, b], range(10), set(range(10)) - {3})

    wait_until(lambda: a.present(range(10, 15), partition="p") == set(range(10, 15)))
    a.call("clear", partition="p")
    for w in (a, b):
        wait_until(lambda w=w: w.present(range(10, 15), partition="p") == set())
    # clearing one partition leaves the others
    assert b.present(range(10)) == set(range(10)) - {3}

    b.call("clear")
    converge([a, b], range(10), set())


def test_ttl_propagates_and_redis_cleans_up(
    spawn: Callable[..., Worker], redis_server: RedisServer
) -> None:
    a, b = start_many(spawn, 2)
    a.call("put", key=1, response="r1", ttl_seconds=1.0)
    a.call("put", key=2, response="r2")
    wait_until(lambda: b.present([1, 2]) == {1, 2})
    r = redis_server.client()
    assert 0 < r.pttl("{bsc:test}:e:1") <= 1000
    converge([a, b], [1, 2], {2})
    assert not r.exists("{bsc:test}:e:1")
    assert r.exists("{bsc:test}:e:2")


def test_a_process_started_late_catches_up(spawn: Callable[..., Worker]) -> None:
    a = spawn()
    ids = {k: a.call("put", key=k, response=f"r{k}") for k in range(30)}
    for k in (4, 5, 6):
        a.call("delete", id=ids[k])
    late = spawn()
    # the first sync is done before the constructor returns
    assert late.present(range(30)) == set(range(30)) - {4, 5, 6}
    late.call("put", key=40, response="r40")
    wait_until(lambda: a.present([40]) == {40})


def test_a_killed_process_restarts_and_catches_up(spawn: Callable[..., Worker]) -> None:
    a, b = start_many(spawn, 2)
    ids = {k: a.call("put", key=k, response=f"r{k}") for k in range(10)}
    converge([b], range(10), set(range(10)))
    b.kill()
    for k in range(10, 20):
        a.call("put", key=k, response=f"r{k}")
    a.call("delete", id=ids[0])
    b = spawn()
    assert b.present(range(20)) == set(range(1, 20))


def test_a_trimmed_feed_forces_a_resync_that_loses_nothing(
    spawn: Callable[..., Worker], redis_server: RedisServer
) -> None:
    a, b = start_many(spawn, 2)
    ids = {k: a.call("put", key=k, response=f"r{k}") for k in range(10)}
    converge([b], range(10), set(range(10)))
    b.pause()
    try:
        for k in range(10, 30):
            a.call("put", key=k, response=f"r{k}")
        for k in (1, 2):
            a.call("delete", id=ids[k])
        redis_server.client().xtrim("{bsc:test}:feed", maxlen=0)
        for k in range(30, 35):
            a.call("put", key=k, response=f"r{k}")
    finally:
        b.resume()
    expected = set(range(35)) - {1, 2}
    converge([a, b], range(40), expected)
    assert b.stats()["redis_resyncs"] >= 1
    assert a.stats()["redis_resyncs"] == 0


def test_redis_killed_and_restarted_mid_run(
    spawn: Callable[..., Worker], redis_server: RedisServer
) -> None:
    workers = start_many(spawn, 3)
    for k in range(10):
        workers[k % 3].call("put", key=k, response=f"r{k}")
    converge(workers, range(10), set(range(10)))

    redis_server.kill()
    started = time.monotonic()
    # Lookups answer from the local index, writes are queued; nothing raises.
    for k in range(10, 16):
        workers[k % 3].call("put", key=k, response=f"r{k}")
    for i, w in enumerate(workers):
        assert w.present(range(10)) == set(range(10))
        assert w.present(range(10, 16)) == {k for k in range(10, 16) if k % 3 == i}
    assert time.monotonic() - started < 3, "calls waited on the dead server"
    wait_until(lambda: all(w.stats()["redis_connected"] == 0 for w in workers))
    assert all(w.stats()["redis_queued_writes"] == 2 for w in workers)

    redis_server.start()
    for w in workers:
        wait_until(lambda w=w: w.stats()["redis_connected"] == 1, what="reconnect")
    # The server came back empty (no persistence): a store reset, not a deletion. The instances
    # write back what they held, and the writes queued during the outage are shared.
    converge(workers, range(20), set(range(16)))
    workers[0].call("put", key=16, response="r16")
    converge(workers, range(20), set(range(17)))
    for w in workers:
        stats = w.stats()
        assert stats["redis_queued_writes"] == 0
        assert stats["redis_dropped_writes"] == 0
