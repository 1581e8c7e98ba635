"""Shared cache through Redis against local caches, measured in the same run.

With 2 and 4 processes, prints put-to-visible latency p50/p99 (shared: a put in one process until
a lookup in another hits; local: a put until a lookup in the same process hits, the best a local
cache can do) and lookup p50 (hits, dim 384, 5,000 entries), then shared/local ratios. Starts
its own redis-server (Debian package ``redis-server``) on 127.0.0.1 without persistence.

    .venv/bin/python benchmarks/redis_shared.py
    .venv/bin/python benchmarks/redis_shared.py --rounds 100 --procs 2   # a quicker run
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import shutil
import socket
import subprocess
import tempfile
import time
from multiprocessing.queues import Queue
from typing import Any

import numpy as np
import numpy.typing as npt

DIM = 384
ENTRIES = 5_000
LOOKUPS = 2_000
# Observers poll with a short sleep so the sync thread gets the GIL (and a core) meanwhile.
POLL_SLEEP = 50e-6


def vectors(start: int, n: int) -> npt.NDArray[np.float32]:
    return np.random.default_rng(start).standard_normal((n, DIM)).astype(np.float32)


def worker(idx: int, url: str | None, ns: str, cmds: Queue[Any], results: Queue[Any]) -> None:
    from binary_semantic_cache import BinaryEncoder
    from binary_semantic_cache.cache import BinarySemanticCache

    cache = BinarySemanticCache(
        BinaryEncoder(DIM), max_entries=100_000, redis_url=url, namespace=ns
    )
    preload = vectors(0, ENTRIES)
    probes = vectors(1, 1_000)
    results.put(("ready", idx))
    while True:
        cmd, arg = cmds.get()
        if cmd == "preload":
            # shared: one process writes, all see it; local: each writes its own
            if url is None or idx == 0:
                cache.put_batch(preload, [f"r{i}" for i in range(ENTRIES)])
            while len(cache) < ENTRIES:
                time.sleep(0.01)
            results.put(("preloaded", idx))
        elif cmd == "lookups":
            times = []
            for i in range(LOOKUPS):
                v = preload[i % ENTRIES]
                t0 = time.perf_counter_ns()
                cache.get(v)
                times.append(time.perf_counter_ns() - t0)
            results.put(("lookup", float(np.median(times))))
        elif cmd == "observe":
            results.put(("polling", idx))
            deadline = time.monotonic() + 5
            while cache.get(probes[arg]) is None and time.monotonic() < deadline:
                time.sleep(POLL_SLEEP)
            results.put(("seen", time.time_ns()))
        elif cmd == "write":
            t0 = time.time_ns()
            cache.put(probes[arg], "x")
            while cache.get(probes[arg]) is None:
                pass
            results.put(("wrote", (t0, time.time_ns())))
        else:
            cache.close()
            results.put(("stopped", idx))
            return


def expect(results: Queue[Any], tag: str, n: int) -> list[Any]:
    out = []
    for _ in range(n):
        got, value = results.get(timeout=60)
        assert got == tag, f"expected {tag}, got {got}"
        out.append(value)
    return out


def run(n: int, url: str | None, rounds: int) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    results: Queue[Any] = ctx.Queue()
    cmds: list[Queue[Any]] = [ctx.Queue() for _ in range(n)]
    ns = f"bench{n}-{time.time_ns()}"
    procs = [
        ctx.Process(target=worker, args=(i, url, ns, cmds[i], results), daemon=True)
        for i in range(n)
    ]
    for p in procs:
        p.start()
    expect(results, "ready", n)
    for q in cmds:
        q.put(("preload", None))
    expect(results, "preloaded", n)
    for q in cmds:
        q.put(("lookups", None))
    lookup_ns = float(np.median(expect(results, "lookup", n)))

    visible = []
    for r in range(min(rounds, 1_000)):
        writer = r % n
        observers = [i for i in range(n) if i != writer] if url is not None else []
        for i in observers:
            cmds[i].put(("observe", r))
        expect(results, "polling", len(observers))
        cmds[writer].put(("write", r))
        replies = [results.get(timeout=30) for _ in range(1 + len(observers))]
        ((t0, t_local),) = [value for tag, value in replies if tag == "wrote"]
        seen = [value for tag, value in replies if tag == "seen"]
        visible.extend(t - t0 for t in (seen if url is not None else [t_local]))
    for q in cmds:
        q.put(("stop", None))
    expect(results, "stopped", n)
    for p in procs:
        p.join()
    return {
        "visible_p50_ms": float(np.percentile(visible, 50)) / 1e6,
        "visible_p99_ms": float(np.percentile(visible, 99)) / 1e6,
        "lookup_p50_us": lookup_ns / 1e3,
    }


def start_redis(workdir: str) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found (Debian: apt-get install -y redis-server)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen([*args, "--dir", workdir], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        server, url = start_redis(workdir)
        try:
            rows = [(n, run(n, None, args.rounds), run(n, url, args.rounds)) for n in args.procs]
        finally:
            server.kill()
            server.wait()
    print(f"dim {DIM}, {ENTRIES} entries, {args.rounds} put rounds, {mp.cpu_count()} CPUs")
    print(
        f"{'procs':>5} {'mode':>6} {'visible p50 ms':>15} {'visible p99 ms':>15} "
        f"{'lookup p50 us':>14}"
    )
    for n, local, shared in rows:
        for mode, m in (("local", local), ("shared", shared)):
            print(
                f"{n:>5} {mode:>6} {m['visible_p50_ms']:>15.3f} {m['visible_p99_ms']:>15.3f} "
                f"{m['lookup_p50_us']:>14.1f}"
            )
        print(
            f"{n:>5} {'ratio':>6} {shared['visible_p50_ms'] / local['visible_p50_ms']:>14.1f}x "
            f"{shared['visible_p99_ms'] / local['visible_p99_ms']:>14.1f}x "
            f"{shared['lookup_p50_us'] / local['lookup_p50_us']:>13.2f}x"
        )


if __name__ == "__main__":
    main()
