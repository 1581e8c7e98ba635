"""A cache directory's front-door stats: every session's counters, added up at each close.

The core counts entries and its own lookups; what a front door decided (hits by tier, refusals
by reason, tokens and cost saved, stage latencies) lives in the process. At ``close()`` the
engine adds its session's :class:`~binary_semantic_cache.stats.CacheStats` to
``front-door-stats.json`` beside the core's files (JSON, written atomically, owner-only), and
``bsc-cache info`` shows the sum.
"""

from __future__ import annotations

import json
import os
from dataclasses import fields
from pathlib import Path
from typing import Any

from binary_semantic_cache._files import atomic_write
from binary_semantic_cache.stats import LATENCY_BUCKETS, CacheStats, LatencyHistogram

__all__ = ["STATS_FILE", "add_session", "read_saved"]

STATS_FILE = "front-door-stats.json"
_VERSION = 1


def read_saved(directory: Path) -> CacheStats | None:
    """The stats saved in ``directory``, or ``None`` when there are none.

    Raises:
        ValueError: the file is not stats this version wrote.
    """
    path = directory / STATS_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("v") != _VERSION:
        msg = f"{path}: expected front-door stats of version {_VERSION}, got {str(data)[:80]!r}"
        raise ValueError(msg)
    return _from_dict(data["stats"])


def add_session(directory: Path, session: CacheStats) -> None:
    """Add ``session``'s counters to those saved in ``directory`` (a damaged file restarts)."""
    try:
        saved = read_saved(directory)
    except (ValueError, KeyError, TypeError):
        saved = None
    total = session if saved is None else _sum(saved, session)
    data = json.dumps({"v": _VERSION, "stats": _plain(total)}, indent=1).encode()
    atomic_write(directory / STATS_FILE, data)
    os.chmod(directory / STATS_FILE, 0o600)


def _plain(stats: CacheStats) -> dict[str, Any]:
    out = {f.name: getattr(stats, f.name) for f in fields(stats)}
    out["refusals"] = dict(stats.refusals)
    out["latency"] = {
        stage: {"counts": list(h.counts), "total_seconds": h.total_seconds}
        for stage, h in stats.latency.items()
    }
    return out


def _from_dict(data: dict[str, Any]) -> CacheStats:
    known = {f.name for f in fields(CacheStats)} - {"refusals", "latency"}
    counters = {k: v for k, v in data.items() if k in known}
    latency = {}
    for stage, histogram in data.get("latency", {}).items():
        counts = tuple(int(c) for c in histogram["counts"])
        if len(counts) != len(LATENCY_BUCKETS) + 1:
            msg = f"latency of {stage}: expected {len(LATENCY_BUCKETS) + 1} buckets"
            raise ValueError(msg)
        latency[stage] = LatencyHistogram(counts, float(histogram["total_seconds"]))
    refusals = {str(k): int(v) for k, v in data.get("refusals", {}).items()}
    return CacheStats(**counters, refusals=refusals, latency=latency)


def _sum(a: CacheStats, b: CacheStats) -> CacheStats:
    counters = {
        f.name: getattr(a, f.name) + getattr(b, f.name)
        for f in fields(CacheStats)
        if f.name not in ("refusals", "latency")
    }
    refusals = {k: a.refusals.get(k, 0) + b.refusals.get(k, 0) for k in {*a.refusals, *b.refusals}}
    latency = {}
    for stage in {*a.latency, *b.latency}:
        left, right = a.latency.get(stage), b.latency.get(stage)
        if left is None or right is None:
            latency[stage] = left or right or LatencyHistogram()
            continue
        counts = tuple(x + y for x, y in zip(left.counts, right.counts, strict=True))
        latency[stage] = LatencyHistogram(counts, left.total_seconds + right.total_seconds)
    return CacheStats(**counters, refusals=refusals, latency=latency)
