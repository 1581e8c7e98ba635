"""Core speed and memory: bsc-cache against binary-semantic-cache 1.0.1 in the same run.

For dim 384 and 1536 and N = 10k, 100k, 1M entries with 100-byte responses, prints lookup p50/p99
(encoding included) for hits and misses, single and batch put/s and RSS bytes per entry beyond the
response bytes, then the ratios; then RSS per entry at the largest N with 1-byte and 100-byte
responses, checked against issue 19's 48 bytes. Each cache runs in a fresh process; the peer runs
in the benchmark environment made by `make bench-setup` (it installs under the same import name as
this package).

    make bench-setup && make bench
    .venv/bin/python benchmarks/core.py --dims 384 --sizes 10000 100000   # a quicker run
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import Row, Tee, comparison, machine
from _workload import RESPONSE_BYTES

ROOT = Path(__file__).resolve().parent.parent
PEER_PYTHON = ROOT / ".bench-venv" / "bsc101" / "bin" / "python"
PEER = "binary-semantic-cache-1.0.1"
FAISS_CODE_BYTES = 256 // 8  # the 256-bit codes every cache here keeps
RESULTS = Path(__file__).resolve().parent / "results"


def run_worker(
    python: Path | str, impl: str, dim: int, n: int, response_bytes: int = RESPONSE_BYTES
) -> dict[str, Any]:
    out = subprocess.run(
        [str(python), __file__, "--worker", impl, str(dim), str(n), str(response_bytes)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


ROWS: list[Row] = [
    ("lookup hit p50 (ms)", "hit_p50_ms", ".3f", False),
    ("lookup hit p99 (ms)", "hit_p99_ms", ".3f", False),
    ("lookup miss p50 (ms)", "miss_p50_ms", ".3f", False),
    ("lookup miss p99 (ms)", "miss_p99_ms", ".3f", False),
    ("encode p50 (ms)", "encode_p50_ms", ".4f", False),
    ("single put/s", "single_put_per_s", ",.0f", True),
    ("batch put/s", "batch_put_per_s", ",.0f", True),
    ("RSS bytes/entry beyond response", "bytes_per_entry", ".0f", False),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[384, 1536])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--peer-python", type=Path, default=PEER_PYTHON)
    parser.add_argument(
        "--worker", nargs=4, metavar=("IMPL", "DIM", "N", "BYTES"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()

    if args.worker:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from _workload import run_core

        impl, dim, n, size = args.worker
        print(json.dumps(run_core(impl, int(dim), int(n), response_bytes=int(size))))
        return

    out = Tee(RESULTS / "core.md")
    largest: dict[int, tuple[dict[str, Any], dict[str, Any] | None]] = {}
    have_peer = args.peer_python.exists()
    out(f"# {date.today()}, {machine()}")
    if not have_peer:
        out(f"# {PEER} not found at {args.peer_python}: run `make bench-setup` to compare.")
    for dim in args.dims:
        for n in args.sizes:
            ours = run_worker(sys.executable, "bsc", dim, n)
            peer = run_worker(args.peer_python, PEER, dim, n) if have_peer else None
            out(
                f"\n## dim {dim}, N = {n:,}  (hit rate {ours['hit_rate']:.2f}"
                + (f", peer {peer['hit_rate']:.2f}" if peer else "")
                + ")"
            )
            comparison(out, ROWS, ours, peer, PEER)
            if n == max(args.sizes) and dim == args.dims[0]:
                largest[RESPONSE_BYTES] = (ours, peer)

    # Memory by response size at the largest N: 1-byte responses show the fixed cost per entry.
    dim, n = args.dims[0], max(args.sizes)
    largest[1] = (
        run_worker(sys.executable, "bsc", dim, n, 1),
        run_worker(args.peer_python, PEER, dim, n, 1) if have_peer else None,
    )
    out(f"\n## RSS bytes/entry beyond the response, dim {dim}, N = {n:,}")
    out(f"| responses | bsc-cache | {PEER} | faiss IndexBinaryFlat |")
    out("|-----------|-----------|------------------------------|-----------------------|")
    for size, (ours, peer) in sorted(largest.items()):
        theirs = f"{peer['bytes_per_entry']:.0f}" if peer else "n/a"
        out(
            f"| {size:>3} bytes | {ours['bytes_per_entry']:>9.0f} | {theirs:>28} "
            f"| {FAISS_CODE_BYTES:>21} |"
        )
    out(
        f"faiss IndexBinaryFlat: its {FAISS_CODE_BYTES}-byte codes only (no responses, ids, expiry "
        "or LRU), from its layout, not measured"
    )
    worst = max(ours["bytes_per_entry"] for ours, _ in largest.values())
    verdict = "PASS" if worst <= 48 else "FAIL"
    out(f"\n{verdict}  RSS <= 48 bytes/entry beyond the response, 1 and 100 bytes ({worst:.0f})")
    out.save()


if __name__ == "__main__":
    main()
