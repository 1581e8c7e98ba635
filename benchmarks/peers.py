"""One workload through this project and the semantic caches users would otherwise pick.

Peers: binary-semantic-cache 1.0.1 (PyPI), GPTCache 0.1.44 (sqlite + FAISS flat, precomputed
embeddings, FAISS pinned to one thread) and LangChain's InMemoryCache (exact match only: its hit
lookups repeat a stored prompt exactly). Each runs in a fresh process, the peers in their own
environments under .bench-venv/ made by `make bench-setup`. For each N: fill N entries (dim 384,
100-byte responses) 1,000 at a time by the fastest path each offers, time 500 lookups of
near-duplicates of stored entries and 500 of unrelated vectors, single puts, memory, then save,
reopen and look up again.

    .venv/bin/python benchmarks/peers.py                  # N = 10k and 100k (about 10 minutes)
    .venv/bin/python benchmarks/peers.py --sizes 10000    # a quicker run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENVS = ROOT / ".bench-venv"
DIM = 384
LOOKUPS = 500
THRESHOLD = 0.85  # cosine; each peer is given its equivalent
SINGLE_PUTS = 1_000
FILL_BATCH = 1_000
SINGLE_PUT_BUDGET_S = 10.0

PEERS = {  # name: python to run it with
    "bsc-cache": Path(sys.executable),
    "binary-semantic-cache 1.0.1": VENVS / "bsc101" / "bin" / "python",
    "GPTCache 0.1.44": VENVS / "gptcache" / "bin" / "python",
    "LangChain InMemoryCache": Path(sys.executable),
}


# ----------------------------------------------------------------------------- adapters
class Ours:
    exact = False

    def __init__(self, n: int, workdir: Path) -> None:
        from binary_semantic_cache import BinaryEncoder, BinarySemanticCache

        self.path = workdir / "bsc"
        self.cache = BinarySemanticCache(
            BinaryEncoder(DIM),
            max_entries=n + SINGLE_PUTS,
            similarity_threshold=THRESHOLD,
            path=self.path,
            durability="manual",  # written by save(), as the peers are
        )

    def fill(self, keys: list[str], vectors: Any, responses: list[str]) -> None:
        self.cache.put_batch(vectors, responses)

    def put(self, key: str, vector: Any, response: str) -> None:
        self.cache.put(vector, response)

    def get(self, key: str, vector: Any) -> bool:
        return self.cache.get(vector) is not None

    def save(self, workdir: Path) -> Path:
        self.cache.save()
        return self.path

    def reopen(self, path: Path) -> None:
        from binary_semantic_cache import BinarySemanticCache

        self.cache.close()
        self.cache = BinarySemanticCache(
            path=path, similarity_threshold=THRESHOLD, durability="manual"
        )


class Bsc101:
    exact = False

    def __init__(self, n: int, workdir: Path) -> None:
        sys.path.insert(0, str(HERE))
        from _workload import PeerBinarySemanticCache  # registers its missing modules

        self.peer = PeerBinarySemanticCache(DIM, n + SINGLE_PUTS, THRESHOLD)
        self.n, self.workdir = n, workdir

    def fill(self, keys: list[str], vectors: Any, responses: list[str]) -> None:
        for v, r in zip(vectors, responses, strict=True):
            self.peer.put(v, r)

    def put(self, key: str, vector: Any, response: str) -> None:
        self.peer.put(vector, response)

    def get(self, key: str, vector: Any) -> bool:
        return self.peer.get(vector) is not None

    def save(self, workdir: Path) -> Path:
        path = workdir / "saved"
        self.peer.cache.save_mmap(str(path))  # v2: its v3 files cannot be loaded
        return path

    def reopen(self, path: Path) -> None:
        fresh = Bsc101(self.n, self.workdir)
        fresh.peer.cache.load_mmap(str(path))
        self.peer = fresh.peer


class GPTCachePeer:
    """sqlite + FAISS flat; the prompt text is the key to its precomputed vector, handed over once
    (popped) so this adapter keeps no vectors of its own."""

    exact = False

    def __init__(self, n: int, workdir: Path) -> None:
        import faiss  # type: ignore[import-not-found]

        faiss.omp_set_num_threads(1)  # its default two threads were slower here
        self.n = n
        self.vectors: dict[str, Any] = {}
        self.path = workdir / "live"
        self.path.mkdir()
        self._open(self.path)

    def _open(self, path: Path) -> None:
        from gptcache import Cache, Config  # type: ignore[import-not-found]
        from gptcache.manager import CacheBase, VectorBase, get_data_manager
        from gptcache.processor.pre import get_prompt
        from gptcache.similarity_evaluation.distance import SearchDistanceEvaluation

        manager = get_data_manager(
            CacheBase("sqlite", sql_url=f"sqlite:///{path}/sqlite.db"),
            VectorBase("faiss", dimension=DIM, index_path=str(path / "faiss.index")),
            max_size=4 * self.n,
        )
        self.cache = Cache()
        # Squared L2 between unit vectors is 2 - 2cos, scored 4 - d2 over [0, 4]: cos >= 2t - 1.
        self.cache.init(
            pre_embedding_func=get_prompt,
            embedding_func=lambda key, **_: self.vectors.pop(key),
            data_manager=manager,
            similarity_evaluation=SearchDistanceEvaluation(),
            config=Config(similarity_threshold=(THRESHOLD + 1) / 2),
        )

    def fill(self, keys: list[str], vectors: Any, responses: list[str]) -> None:
        self.vectors.update(zip(keys, vectors, strict=True))
        self.cache.import_data(keys, responses)

    def put(self, key: str, vector: Any, response: str) -> None:
        from gptcache.adapter.api import put

        self.vectors[key] = vector
        put(key, response, cache_obj=self.cache)

    def get(self, key: str, vector: Any) -> bool:
        from gptcache.adapter.api import get

        self.vectors[key] = vector
        return get(key, cache_obj=self.cache) is not None

    def save(self, workdir: Path) -> Path:
        self.cache.flush()
        return Path(shutil.copytree(self.path, workdir / "saved"))

    def reopen(self, path: Path) -> None:
        self._open(path)


class LangChainInMemory:
    exact = True
    llm = "fake-llm"

    def __init__(self, n: int, workdir: Path) -> None:
        from langchain_core.caches import InMemoryCache

        self.cache = InMemoryCache()

    def fill(self, keys: list[str], vectors: Any, responses: list[str]) -> None:
        for k, r in zip(keys, responses, strict=True):
            self.put(k, None, r)

    def put(self, key: str, vector: Any, response: str) -> None:
        from langchain_core.outputs import Generation

        self.cache.update(key, self.llm, [Generation(text=response)])

    def get(self, key: str, vector: Any) -> bool:
        return self.cache.lookup(key, self.llm) is not None

    def save(self, workdir: Path) -> None:
        return None  # in memory only


ADAPTERS: dict[str, Any] = {
    "bsc-cache": Ours,
    "binary-semantic-cache 1.0.1": Bsc101,
    "GPTCache 0.1.44": GPTCachePeer,
    "LangChain InMemoryCache": LangChainInMemory,
}


# ----------------------------------------------------------------------------- worker
def run(name: str, n: int, workdir: Path) -> dict[str, Any]:
    import gc

    import numpy as np

    sys.path.insert(0, str(HERE))
    from _workload import CHUNK, RESPONSE_BYTES, chunks, percentiles_ms, response, rss_bytes

    # Memory is measured as in core.py: the baseline follows the cache's creation, one warm-up
    # entry and a first draw into the reused vector buffer; each batch's keys and responses are
    # built afresh and batches are small, so the growth is what a cache keeps (its own copies and
    # any key or response object it holds), not the harness's inputs or a big batch's temporaries.
    cache = ADAPTERS[name](n, workdir)
    buf = np.empty((CHUNK, DIM), dtype=np.float32)
    for _ in chunks(CHUNK, DIM, seed=99, buf=buf):
        pass
    cache.fill(["warm"], buf[:1], [response(n)])
    gc.collect()
    rss_before = rss_bytes()
    fill_ns = 0
    for start, block in chunks(n - 1, DIM, buf=buf):
        for lo in range(0, len(block), FILL_BATCH):
            rows = range(start + lo, start + min(lo + FILL_BATCH, len(block)))
            keys = [f"question {i}" for i in rows]
            responses = [response(i) for i in rows]
            t0 = time.perf_counter_ns()
            cache.fill(keys, block[lo : lo + FILL_BATCH], responses)
            fill_ns += time.perf_counter_ns() - t0
    del keys, responses
    gc.collect()
    bytes_per_entry = (rss_bytes() - rss_before) / (n - 1) - RESPONSE_BYTES

    near = next(chunks(LOOKUPS, DIM))[1] + 0.05 * next(chunks(LOOKUPS, DIM, seed=7))[1]
    near /= np.linalg.norm(near, axis=1, keepdims=True)  # near-duplicates of the first rows stored
    far = next(chunks(LOOKUPS, DIM, seed=11))[1].copy()
    # An exact cache can only be asked for a stored prompt; the others get a paraphrase.
    hit_keys = [f"question {i}" if cache.exact else f"near {i}" for i in range(LOOKUPS)]
    miss_keys = [f"other {i}" for i in range(LOOKUPS)]

    def timed(ks: list[str], vs: Any) -> tuple[list[int], int]:
        samples, found = [], 0
        for k, v in zip(ks, vs, strict=True):
            t0 = time.perf_counter_ns()
            found += cache.get(k, v)
            samples.append(time.perf_counter_ns() - t0)
        return samples, found

    hit_ns, hits = timed(hit_keys, near)
    miss_ns, false_hits = timed(miss_keys, far)
    extra = next(chunks(SINGLE_PUTS, DIM, seed=13))[1].copy()
    puts, t = 0, time.perf_counter()
    while puts < SINGLE_PUTS and time.perf_counter() - t < SINGLE_PUT_BUDGET_S:
        cache.put(f"extra {puts}", extra[puts], response(n + puts))
        puts += 1
    put_rate = puts / (time.perf_counter() - t)

    result: dict[str, Any] = {
        "peer": name,
        "n": n,
        "fill_per_s": (n - 1) / (fill_ns / 1e9),
        "hit_p50_ms": percentiles_ms(hit_ns)[0],
        "hit_p99_ms": percentiles_ms(hit_ns)[1],
        "miss_p50_ms": percentiles_ms(miss_ns)[0],
        "miss_p99_ms": percentiles_ms(miss_ns)[1],
        "hit_rate": hits / LOOKUPS,
        "false_hits": false_hits,
        "single_put_per_s": put_rate,
        "bytes_per_entry": bytes_per_entry,
    }
    t = time.perf_counter()
    saved = cache.save(workdir)
    if saved is not None:
        result["save_s"] = time.perf_counter() - t
        files = [saved] if saved.is_file() else [f for f in saved.rglob("*") if f.is_file()]
        result["disk_bytes_per_entry"] = sum(f.stat().st_size for f in files) / n
        t = time.perf_counter()
        cache.reopen(saved)
        result["open_s"] = time.perf_counter() - t
        result["hit_rate_after_open"] = timed(hit_keys[:100], near[:100])[1] / 100
    return result


# ----------------------------------------------------------------------------- report
ROWS = [  # label, key, format, higher is better
    ("lookup hit p50 (ms)", "hit_p50_ms", ".3f", False),
    ("lookup hit p99 (ms)", "hit_p99_ms", ".3f", False),
    ("lookup miss p50 (ms)", "miss_p50_ms", ".3f", False),
    ("hit rate on near-duplicates", "hit_rate", ".2f", True),
    ("fill, fastest path (entries/s)", "fill_per_s", ",.0f", True),
    ("single put/s", "single_put_per_s", ",.0f", True),
    ("RSS bytes/entry beyond response", "bytes_per_entry", ",.0f", False),
    ("save (s)", "save_s", ".3f", False),
    ("open (s)", "open_s", ".3f", False),
    ("disk bytes/entry", "disk_bytes_per_entry", ",.0f", False),
    ("hit rate after reopen", "hit_rate_after_open", ".2f", True),
]


def cell(result: dict[str, Any] | None, key: str, spec: str) -> str:
    value = None if result is None else result.get(key)
    return "n/a" if value is None else format(value, spec)


def ratio(ours: dict[str, Any], peer: dict[str, Any] | None, key: str, higher: bool) -> str:
    a, b = ours.get(key), None if peer is None else peer.get(key)
    if a is None or b is None or a <= 0 or b <= 0 or key.startswith("hit_rate"):
        return ""
    r = a / b if higher else b / a
    return f" ({r:.1f}x)" if r >= 1 else f" ({r:.2f}x)"


def render(n: int, results: dict[str, dict[str, Any] | None]) -> str:
    names = list(results)
    ours = results["bsc-cache"] or {}
    lines = [
        f"### N = {n:,} entries, dim {DIM}, threshold {THRESHOLD}",
        "| metric | " + " | ".join(names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    for label, key, spec, higher in ROWS:
        cells = [cell(ours, key, spec)] + [
            cell(results[p], key, spec) + ratio(ours, results[p], key, higher) for p in names[1:]
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append(
        "(x) = bsc-cache's advantage over that peer (above 1 is better for bsc-cache). "
        "InMemoryCache is exact-match: its hits are exact repeats of stored prompts."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--out", type=Path, default=HERE / "results" / "peers.md")
    parser.add_argument("--worker", nargs=2, metavar=("PEER", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        with tempfile.TemporaryDirectory() as tmp:
            result = run(args.worker[0], int(args.worker[1]), Path(tmp))
        print(json.dumps(result), flush=True)
        os._exit(0)  # skips GPTCache's exit hook, which would flush into the removed directory

    sys.path.insert(0, str(HERE))
    from _report import machine

    out = [f"# peers, {date.today()}, {machine()}"]
    print(out[0], flush=True)
    missing = [name for name, python in PEERS.items() if not python.exists()]
    for name in missing:
        print(f"# {name}: no environment at {PEERS[name]}; run `make bench-setup` to include it")
    for n in args.sizes:
        results: dict[str, dict[str, Any] | None] = {}
        for name, python in PEERS.items():
            if name in missing:
                results[name] = None
                continue
            proc = subprocess.run(
                [str(python), __file__, "--worker", name, str(n)],
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            if proc.returncode != 0:
                print(f"# {name} failed at N={n}:\n{proc.stderr[-2000:]}", file=sys.stderr)
                results[name] = None
                continue
            results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
        table = render(n, results)
        print("\n" + table, flush=True)
        out += ["", table]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
