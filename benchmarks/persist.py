"""Persistence: save time, bytes on disk per entry, and open-to-first-lookup time, for bsc-cache
and binary-semantic-cache 1.0.1 (its v2 "mmap" format; its v3 cannot be loaded) in the same run.

Disk use is also shown against the bytes the entries themselves hold: code (bits / 8) + payload
+ metadata (id, partition, created, expires, hits, last access: 36 bytes).

    make bench-setup && .venv/bin/python benchmarks/persist.py
    .venv/bin/python benchmarks/persist.py --sizes 100000        # quicker
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import Row, Tee, comparison, machine
from _workload import RESPONSE_BYTES, chunks, response
from core import PEER, PEER_PYTHON, RESULTS, ROOT

DIM = 384
METADATA_BYTES = 36


def fill_and_save(impl: str, n: int, path: Path) -> dict[str, Any]:
    if impl == "bsc":
        from binary_semantic_cache import BinaryEncoder, BinarySemanticCache

        cache = BinarySemanticCache(
            BinaryEncoder(DIM), max_entries=n, path=path, durability="manual"
        )
        for start, block in chunks(n, DIM):
            cache.put_batch(block, [response(start + i) for i in range(len(block))])
        t = time.perf_counter()
        cache.save()
        elapsed = time.perf_counter() - t
        cache.close()
    else:
        from _workload import PeerBinarySemanticCache

        peer = PeerBinarySemanticCache(DIM, n, 0.85)
        for start, block in chunks(n, DIM):
            for i in range(len(block)):
                peer.put(block[i], response(start + i))
        t = time.perf_counter()
        peer.cache.save_mmap(str(path))
        elapsed = time.perf_counter() - t
    disk = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return {"save_s": elapsed, "disk_bytes": disk}


def open_and_lookup(impl: str, n: int, path: Path) -> dict[str, Any]:
    query = next(chunks(1, DIM))[1][0].copy()  # the first entry stored
    t = time.perf_counter()
    if impl == "bsc":
        from binary_semantic_cache import BinarySemanticCache

        cache = BinarySemanticCache(path=path)
        hit = cache.get(query)
    else:
        from _workload import PeerBinarySemanticCache

        peer = PeerBinarySemanticCache(DIM, n, 0.85)
        peer.cache.load_mmap(str(path))
        hit = peer.get(query)
    elapsed = time.perf_counter() - t
    return {"open_to_first_lookup_s": elapsed, "first_lookup_hit": hit is not None}


def run(python: Path | str, *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [str(python), __file__, "--worker", *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(python: Path | str, impl: str, n: int) -> dict[str, Any]:
    path = Path(tempfile.mkdtemp(prefix="bsc-persist-bench-")) / "cache"
    try:
        result = run(python, "save", impl, str(n), str(path))
        result.update(run(python, "open", impl, str(n), str(path)))
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
    entry_bytes = 256 // 8 + RESPONSE_BYTES + METADATA_BYTES
    result["disk_bytes_per_entry"] = result["disk_bytes"] / n
    result["disk_vs_entry_bytes"] = result["disk_bytes"] / (n * entry_bytes)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--peer-python", type=Path, default=PEER_PYTHON)
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        step, impl, n, path = args.worker
        fn = fill_and_save if step == "save" else open_and_lookup
        print(json.dumps(fn(impl, int(n), Path(path))))
        return

    out = Tee(RESULTS / "persist.md")
    have_peer = args.peer_python.exists()
    out(f"# {date.today()}, {machine()}; dim {DIM}, {RESPONSE_BYTES}-byte responses")
    if not have_peer:
        out(f"# {PEER} not found at {args.peer_python}: run `make bench-setup` to compare.")
    rows: list[Row] = [
        ("save (s)", "save_s", ".3f", False),
        ("disk bytes/entry", "disk_bytes_per_entry", ".0f", False),
        ("disk / (code+payload+metadata)", "disk_vs_entry_bytes", ".2f", False),
        ("open to first lookup (s)", "open_to_first_lookup_s", ".3f", False),
    ]
    for n in args.sizes:
        ours = measure(sys.executable, "bsc", n)
        peer = measure(args.peer_python, PEER, n) if have_peer else None
        out(f"\n## N = {n:,}  (first lookup hit: {ours['first_lookup_hit']})")
        comparison(out, rows, ours, peer, PEER)

    out.save()


if __name__ == "__main__":
    main()
