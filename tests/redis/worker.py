"""One process with a shared cache, for the tests: JSON commands on stdin, replies on stdout."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from binary_semantic_cache import BinaryEncoder
from binary_semantic_cache.cache import BinarySemanticCache
from binary_semantic_cache.redis_sync import SyncOptions
from tests.redis.server import DIM, SEED, vec


def main() -> None:
    config = json.loads(sys.argv[1])
    cache = BinarySemanticCache(
        BinaryEncoder(DIM, seed=SEED),
        max_entries=config.get("max_entries", 10_000),
        similarity_threshold=0.95,
        redis_url=config["url"],
        namespace=config["namespace"],
        redis_cluster=config.get("cluster", False),
        redis_options=SyncOptions(reconnect_max=0.2, block_ms=200),
    )
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        try:
            reply: Any = {"ok": run(cache, cmd)}
        except Exception as err:
            reply = {"error": repr(err)}
        print(json.dumps(reply), flush=True)
        if cmd["op"] == "close":
            return


def run(cache: BinarySemanticCache, cmd: dict[str, Any]) -> Any:
    op = cmd["op"]
    if op == "put":
        return cache.put(
            vec(cmd["key"]), cmd["response"], cmd.get("partition"), cmd.get("ttl_seconds")
        )
    if op == "put_keys":
        # one call for many puts, each through put() as a caller would make it
        return [cache.put(vec(k), f"r{k}") for k in cmd["keys"]]
    if op == "get":
        hit = cache.get(vec(cmd["key"]), cmd.get("partition"))
        return None if hit is None else hit.response
    if op == "present":
        # keys whose lookup hits with the response the tests store for them
        return [
            k
            for k in cmd["keys"]
            if (hit := cache.get(vec(k), cmd.get("partition"))) is not None
            and hit.response == f"r{k}"
        ]
    if op == "delete":
        return cache.delete(cmd["id"])
    if op == "clear":
        return cache.clear(cmd.get("partition"))
    if op == "stats":
        return cache.stats()
    if op == "close":
        cache.close()
        return True
    raise ValueError(f"unknown op {op}")


if __name__ == "__main__":
    main()
