"""Core speed and memory: bsc-cache against binary-semantic-cache 1.0.1 in the same run.

For dim 384 and 1536 and N = 10k, 100k, 1M entries with 100-byte responses, prints lookup p50/p99
(encoding included) for hits and misses, single and batch put/s and RSS bytes per entry beyond the
response bytes, then the ratios. Each cache runs in a fresh process; the peer runs in the benchmark
environment made by `make bench-setup` (it installs under the same import name as this package).

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

ROOT = Path(__file__).resolve().parent.parent
PEER_PYTHON = ROOT / ".bench-venv" / "bsc101" / "bin" / "python"
PEER = "binary-semantic-cache-1.0.1"
RESULTS = Path(__file__).resolve().parent / "results"


def run_worker(python: Path | str, impl: str, dim: int, n: int) -> dict[str, Any]:
    out = subprocess.run(
        [str(python), __file__, "--worker", impl, str(dim), str(n)],
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
    parser.add_argument("--worker", nargs=3, metavar=("IMPL", "DIM", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from _workload import run_core

        impl, dim, n = args.worker
        print(json.dumps(run_core(impl, int(dim), int(n))))
        return

    out = Tee(RESULTS / "core.md")
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

    out.save()


if __name__ == "__main__":
    main()
