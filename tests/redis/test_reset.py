"""A Redis server that comes back empty is a store reset: the processes re-seed it, lose nothing."""

from __future__ import annotations

import time
from collections.abc import Callable

from .server import RedisServer, Worker, wait_until
from .test_processes import start_many

INDEX = "{bsc:test}:index"


def test_a_store_reset_is_reseeded_and_loses_no_put(
    spawn: Callable[..., Worker], redis_server: RedisServer
) -> None:
    a, b = start_many(spawn, 2)
    a.call("put_keys", keys=list(range(0, 250)))
    b.call("put_keys", keys=list(range(250, 500)))
    for w in (a, b):
        wait_until(lambda w=w: w.present(range(500)) == set(range(500)), what="the first 500")

    redis_server.kill()
    # Every put returns (an exception would fail call()), served locally and queued.
    a.call("put_keys", keys=list(range(500, 550)))
    b.call("put_keys", keys=list(range(550, 600)))
    assert a.present(range(600)) == set(range(550))
    assert b.present(range(600)) == set(range(500)) | set(range(550, 600))

    redis_server.start()
    started = time.monotonic()
    everything = set(range(600))
    for w in (a, b):
        wait_until(lambda w=w: w.present(range(600)) == everything, timeout=20, what="all 600")
    r = redis_server.client()
    # each entry written once, by whichever process claimed it
    wait_until(lambda: r.zcard(INDEX) == 600, what="600 entries in the store")
    print(f"store reset: whole again in {time.monotonic() - started:.2f} s, 600 entries")

    late = spawn()
    assert late.present(range(600)) == everything
    for w in (a, b):
        stats = w.stats()
        assert (stats["redis_dropped_writes"], stats["redis_errors"]) == (0, 0)
        assert stats["redis_queued_writes"] == 0
    assert r.zcard(INDEX) == 600


def test_deletes_during_the_outage_hold_and_clear_still_clears_everyone(
    spawn: Callable[..., Worker], redis_server: RedisServer
) -> None:
    a, b = start_many(spawn, 2)
    ids = a.call("put_keys", keys=list(range(20)))
    wait_until(lambda: b.present(range(20)) == set(range(20)))

    redis_server.kill()
    for k in (3, 4):
        a.call("delete", id=ids[k])
    redis_server.start()
    # b still holds 3 and 4 and offers them back; a's queued deletes claimed them first, or
    # delete the copies b wrote back
    expected = set(range(20)) - {3, 4}
    for w in (a, b):
        wait_until(lambda w=w: w.present(range(20)) == expected, timeout=10, what="the deletes")
    assert redis_server.client().zcard(INDEX) == len(expected)

    b.call("clear")
    for w in (a, b):
        wait_until(lambda w=w: w.present(range(20)) == set(), what="the clear")
    assert spawn().present(range(20)) == set()


def test_a_clear_during_the_outage_is_not_undone_by_the_reseed(
    spawn: Callable[..., Worker], redis_server: RedisServer
) -> None:
    a, b = start_many(spawn, 2)
    for k in range(10):
        a.call("put", key=k, response=f"r{k}", partition="p" if k < 5 else None)
    wait_until(lambda: b.present(range(5), partition="p") == set(range(5)))
    wait_until(lambda: b.present(range(5, 10)) == set(range(5, 10)))

    redis_server.kill()
    a.call("clear", partition="p")
    redis_server.start()
    # whichever comes first, a's queued clear or b's write-back of partition p, p stays empty
    for w in (a, b):
        wait_until(lambda w=w: w.present(range(5, 10)) == set(range(5, 10)), what="the rest")
        wait_until(lambda w=w: w.present(range(5), partition="p") == set(), what="the clear")
    assert redis_server.client().zcard(INDEX) == 5
