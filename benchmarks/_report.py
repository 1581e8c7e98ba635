"""What every results table states: the machine it ran on."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any


def machine() -> str:
    """CPU model, core count and OS, e.g. "Intel Xeon ... (2 cores), Linux x86_64"."""
    cpu = platform.processor() or "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{cpu} ({os.cpu_count()} cores), {platform.system()} {platform.machine()}"


class Tee:
    """Prints each line and keeps it, so a script's tables also land in benchmarks/results/ for
    benchmarks/results.py to put in the README."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: list[str] = []

    def __call__(self, line: str = "") -> None:
        print(line, flush=True)
        self.lines.append(line)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("\n".join(self.lines) + "\n")


# (label, result key, format spec, whether a higher figure is better)
Row = tuple[str, str, str, bool]


def comparison(
    out: Tee, rows: list[Row], ours: dict[str, Any], peer: dict[str, Any] | None, peer_name: str
) -> None:
    """One table: each row's figure for bsc-cache and the peer, and bsc-cache's advantage."""

    def fmt(x: float | None, spec: str) -> str:
        return "n/a" if x is None else format(x, spec)

    def advantage(o: float | None, p: float | None, higher_is_better: bool) -> str:
        if o is None or p is None or o <= 0 or p <= 0:
            return "n/a"
        return f"{(o / p if higher_is_better else p / o):.1f}x"

    out(f"| {'metric':<32} | {'bsc-cache':>12} | {peer_name:>28} | {'bsc advantage':>13} |")
    out(f"|{'-' * 34}|{'-' * 14}|{'-' * 30}|{'-' * 15}|")
    for label, key, spec, higher in rows:
        o = ours.get(key)
        p = peer.get(key) if peer else None
        gain = advantage(o, p, higher)
        out(f"| {label:<32} | {fmt(o, spec):>12} | {fmt(p, spec):>28} | {gain:>13} |")
