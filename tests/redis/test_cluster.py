"""The shared cache on a real Redis Cluster (three redis-server nodes, no replicas)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from redis.crc import key_slot

from binary_semantic_cache import _core
from binary_semantic_cache.cache import BinarySemanticCache
from binary_semantic_cache.redis_sync import SyncOptions
from binary_semantic_cache.redis_sync.keys import Keys

from .server import DIM, SEED, ClusterServers, RedisServer, Worker, free_port, vec, wait_until

FAST = SyncOptions(block_ms=100, reconnect_max=0.1, connect_timeout=0.2, write_timeout=0.5)


def on_cluster(url: str, namespace: str = "t", **kwargs: object) -> BinarySemanticCache:
    return BinarySemanticCache(
        _core.BinaryEncoder(DIM, seed=SEED),
        similarity_threshold=0.95,
        redis_url=url,
        redis_cluster=True,
        namespace=namespace,
        redis_options=FAST,
        **kwargs,
    )


def remote_namespace(cluster: ClusterServers) -> str:
    """A namespace whose slot the URL's node does not serve, so every command is redirected."""
    return next(
        ns
        for ns in (f"ns{i}" for i in range(100))
        if cluster.owner(Keys.of(ns).prefix) is not cluster.nodes[0]
    )


def present(worker: Worker, keys: range, expected: set[int], partition: str | None = None) -> None:
    wait_until(
        lambda: worker.present(keys, partition) == expected,
        what=f"worker {worker.proc.pid} to hold {sorted(expected)}",
    )


def test_processes_on_a_cluster_share_puts_deletes_and_clears(
    spawn_in_cluster: Callable[..., Worker], redis_cluster: ClusterServers
) -> None:
    ns = remote_namespace(redis_cluster)
    a, b = spawn_in_cluster(namespace=ns), spawn_in_cluster(namespace=ns)
    ids = {k: a.call("put", key=k, response=f"r{k}") for k in range(10)}
    for k in range(10, 15):
        b.call("put", key=k, response=f"r{k}", partition="p")
    for w in (a, b):
        present(w, range(10), set(range(10)))
        present(w, range(10, 15), set(range(10, 15)), partition="p")
    # the namespace lives on the node serving its slot, not on the node the URL names
    feed = Keys.of(ns).feed
    assert redis_cluster.owner(feed).client().xlen(feed) == 15
    assert redis_cluster.nodes[0].client().dbsize() == 0

    a.call("delete", id=ids[3])
    for w in (a, b):
        present(w, range(10), set(range(10)) - {3})
    a.call("clear", partition="p")
    for w in (a, b):
        present(w, range(10, 15), set(), partition="p")
        assert w.present(range(10)) == set(range(10)) - {3}
    b.call("clear")
    for w in (a, b):
        present(w, range(10), set())


@pytest.mark.parametrize("cluster", [False, True], ids=["server", "cluster"])
def test_a_batch_beyond_one_script_evicts_and_survives_a_script_flush(
    cluster: bool, request: pytest.FixtureRequest
) -> None:
    backend: ClusterServers | RedisServer = request.getfixturevalue(
        "redis_cluster" if cluster else "redis_server"
    )
    nodes = backend.nodes if isinstance(backend, ClusterServers) else [backend]

    def cache() -> BinarySemanticCache:
        return BinarySemanticCache(
            _core.BinaryEncoder(DIM, seed=SEED),
            max_entries=1000,
            similarity_threshold=0.95,
            redis_url=backend.url,
            redis_cluster=cluster,
            namespace="t",
            redis_options=FAST,
        )

    with cache() as a, cache() as b:
        # 1,200 rows are three put scripts; the first 200 rows are evicted by the last
        a.put_batch(np.stack([vec(k) for k in range(1200)]), [f"r{k}" for k in range(1200)])
        for c in (a, b):
            wait_until(
                lambda c=c: (
                    {k for k in range(1200) if c.get(vec(k)) is not None} == set(range(200, 1200))
                ),
                what="the newest 1,000 entries",
            )
            assert len(c) == 1000
        # a node that lost its scripts (a restart, a failover) is sent them again
        for node in nodes:
            node.client().script_flush()
        b.put(vec(5000), "r5000")
        wait_until(lambda: a.get(vec(5000)) is not None)
        for c in (a, b):
            stats = c.stats()
            assert (stats["redis_connected"], stats["redis_errors"]) == (1, 0)
            assert stats["redis_queued_writes"] == 0


def test_a_namespace_is_one_slot_and_one_that_could_span_slots_is_refused(
    redis_cluster: ClusterServers,
) -> None:
    for ns in ["default", "t", "a:b", "tenant/ü", "x" * 300]:
        keys = Keys.of(ns)
        names = [*keys.script_keys(), keys.entry(1), keys.entry(10**12)]
        assert len({key_slot(name.encode()) for name in names}) == 1, ns
    for ns in ["a}{b", "{x}", "x}", ""]:
        with pytest.raises(ValueError, match="non-empty without braces"):
            on_cluster(redis_cluster.url, namespace=ns)


def test_urls_no_cluster_can_serve_are_refused() -> None:
    port = free_port()
    with pytest.raises(ValueError, match="only database 0"):
        on_cluster(f"redis://:pw@127.0.0.1:{port}/1")
    with pytest.raises(ValueError, match="over TCP"):
        on_cluster("unix:///tmp/redis.sock")
    with pytest.raises(ValueError, match="needs redis_url"):
        BinarySemanticCache(_core.BinaryEncoder(DIM, seed=SEED), redis_cluster=True)


def test_an_unreachable_cluster_queues_writes_until_it_is_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="binary_semantic_cache")
    cluster = ClusterServers(tmp_path)
    started = time.monotonic()
    # nothing listens yet: construction and calls must neither raise nor wait
    cache = on_cluster(cluster.url)
    try:
        cache.put(vec(1), "r1")
        assert cache.get(vec(1)).response == "r1"  # type: ignore[union-attr]
        assert time.monotonic() - started < 2
        stats = cache.stats()
        assert (stats["redis_connected"], stats["redis_queued_writes"]) == (0, 1)
        assert caplog.text.count("unreachable") == 1
        cluster.start()
        wait_until(lambda: cache.stats()["redis_connected"] == 1, timeout=10, what="reconnect")
        with on_cluster(cluster.url) as other:
            assert other.get(vec(1)).response == "r1"  # type: ignore[union-attr]
    finally:
        cache.close()
        cluster.kill()


def test_a_cluster_killed_and_restarted_mid_run(
    spawn_in_cluster: Callable[..., Worker], redis_cluster: ClusterServers
) -> None:
    ns = remote_namespace(redis_cluster)
    a, b = spawn_in_cluster(namespace=ns), spawn_in_cluster(namespace=ns)
    a.call("put", key=1, response="r1")
    present(b, range(3), {1})

    redis_cluster.kill()
    started = time.monotonic()
    a.call("put", key=2, response="r2")
    assert a.present(range(3)) == {1, 2}
    assert time.monotonic() - started < 3, "calls waited on the dead cluster"
    wait_until(lambda: all(w.stats()["redis_connected"] == 0 for w in (a, b)))

    redis_cluster.start()
    for w in (a, b):
        wait_until(lambda w=w: w.stats()["redis_connected"] == 1, timeout=15, what="reconnect")
    # the nodes came back empty: both write back what they held, and the queued put is shared
    for w in (a, b):
        present(w, range(3), {1, 2})
    b.call("put", key=0, response="r0")
    present(a, range(3), {0, 1, 2})
