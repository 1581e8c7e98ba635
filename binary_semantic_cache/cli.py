"""``bsc-cache``: look into a cache directory, empty or repair it, or choose a threshold.

.. code-block:: console

    $ bsc-cache info llm-cache             # what the directory holds; safe beside a running writer
    $ bsc-cache clear llm-cache            # forget every answer, keep the settings
    $ bsc-cache repair llm-cache           # keep what a damaged directory still holds
    $ bsc-cache calibrate pairs.jsonl --target-precision 0.95
    $ bsc-cache serve --upstream https://api.openai.com/v1   # an OpenAI-compatible caching server

``calibrate`` reads one JSON object a line, ``{"a": str, "b": str, "label": 0 or 1}`` (gzip when
the name ends in ``.gz``): ``a`` is the stored question, ``b`` the new one, and ``label`` 1 means
one answer serves both. It scores them as the cache adapters would (guards on unless
``--no-guards``) with the embedder named by ``--embedder``; ``--verifier-out JSON`` also refits
the default verifier's probabilities on them.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from binary_semantic_cache._core import BinarySemanticCache, BSCError, CorruptCacheError, repair
from binary_semantic_cache.embeddings.base import Embedder
from binary_semantic_cache.server.command import add_serve_parser
from binary_semantic_cache.stats import CacheStats
from binary_semantic_cache.stats_file import read_saved

__all__ = ["main"]

# A cache directory holds a log from its creation and a snapshot from its first save.
_CACHE_FILES = ("log.bsc", "snapshot.bsc")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 done, 1 failed, 2 bad usage)."""
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (BSCError, OSError, ValueError) as exc:
        print(f"bsc-cache {args.command}: error: {exc}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bsc-cache",
        description="Inspect, empty or repair a bsc-cache directory; calibrate a threshold.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    info = commands.add_parser("info", help="what a cache directory holds (opens it read-only)")
    info.add_argument("path", type=Path, help="the directory given as path= to the cache")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(run=_info)

    clear = commands.add_parser(
        "clear",
        help="forget every stored answer, keep the settings (a cache shared through Redis "
        "refills from it: clear that one with clear() in Python)",
    )
    clear.add_argument("path", type=Path, help="the directory given as path= to the cache")
    clear.set_defaults(run=_clear)

    fix = commands.add_parser(
        "repair",
        help="move a damaged directory's files aside into damaged-<time>/, keep every entry "
        "whose checksums hold, and write a fresh snapshot",
    )
    fix.add_argument("path", type=Path, help="the directory given as path= to the cache")
    fix.set_defaults(run=_repair)

    calibrate = commands.add_parser(
        "calibrate", help="the loosest threshold that keeps a precision on labelled pairs"
    )
    calibrate.add_argument("pairs", type=Path, help='JSON lines {"a": ..., "b": ..., "label": 0|1}')
    calibrate.add_argument("--target-precision", type=float, default=0.95, metavar="P")
    calibrate.add_argument(
        "--embedder",
        default="default",
        metavar="NAME",
        help="default (offline), openai:MODEL or ollama:MODEL (keys and hosts from the "
        "environment, as the embedders read them)",
    )
    calibrate.add_argument("--no-guards", action="store_true", help="score without the guards")
    calibrate.add_argument("--rescore", action="store_true", help="as a cache with rescore=True")
    calibrate.add_argument("--code-bits", type=int, default=256, metavar="BITS")
    calibrate.add_argument(
        "--verifier-out",
        type=Path,
        metavar="JSON",
        help="also refit the default verifier's probabilities on the pairs and write its model "
        "here (load it with DefaultVerifier.from_file)",
    )
    calibrate.set_defaults(run=_calibrate)

    add_serve_parser(commands)
    return parser


def _expect_cache_dir(path: Path) -> None:
    if not any((path / name).is_file() for name in _CACHE_FILES):
        msg = f"{path}: expected a cache directory (holding log.bsc or snapshot.bsc), found none"
        raise ValueError(msg)


def _open_existing(path: Path, read_only: bool) -> BinarySemanticCache:
    _expect_cache_dir(path)
    return BinarySemanticCache(path=path, read_only=read_only)


def _info(args: argparse.Namespace) -> int:
    try:
        opened = _open_existing(args.path, read_only=True)
    except CorruptCacheError as exc:
        msg = f"{exc}\nthe directory needs repair: bsc-cache repair {args.path}"
        raise CorruptCacheError(msg) from exc
    with opened as cache:
        counters = cache.stats()
        del counters["entries"]  # the same as len(cache), reported once
        report: dict[str, Any] = {
            "path": str(args.path),
            "files": {f.name: f.stat().st_size for f in sorted(args.path.iterdir()) if f.is_file()},
            "entries": len(cache),
            "max_entries": cache.max_entries,
            "partitions": counters.pop("partitions"),
            "embedding_dim": cache.encoder.embedding_dim,
            "code_bits": cache.encoder.code_bits,
            "seed": cache.encoder.seed,
            "similarity_threshold": cache.similarity_threshold,
            "rescore": cache.rescore,
            "ttl_seconds": cache.ttl_seconds,
            "response_bytes": counters.pop("payload_bytes"),
            "memory_bytes": counters.pop("memory_bytes"),
            "counters": counters,
        }
    try:
        front_doors = read_saved(args.path)
    except (ValueError, KeyError, TypeError) as exc:  # a damaged file says so, the rest shows
        front_doors = None
        report["front_door_stats_error"] = f"{type(exc).__name__}: {exc}"
    if front_doors is not None:
        report["front_door_stats"] = front_doors.as_dict()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    counters = report.pop("counters")
    files = report.pop("files")
    report.pop("front_door_stats", None)
    print(f"path                  {report.pop('path')}")
    print("files                 " + ", ".join(f"{n} {s:,} B" for n, s in files.items()))
    for key, value in report.items():
        print(f"{key:<22}{value:,}" if type(value) is int else f"{key:<22}{value}")
    print("counters (lifetime)   " + ", ".join(f"{k} {v:,}" for k, v in counters.items()))
    if front_doors is not None:
        _print_front_doors(front_doors)
    return 0


def _print_front_doors(stats: CacheStats) -> None:
    """The adapters' counters of every session over this directory (saved at each close)."""
    print(
        f"front doors           {stats.lookups:,} lookups, {stats.hits:,} hits "
        f"({stats.exact_hits:,} exact, {stats.semantic_hits:,} semantic, "
        f"{stats.hit_rate:.0%}), {stats.misses:,} misses, {stats.errors:,} errors"
    )
    refusals = ", ".join(f"{k} {v:,}" for k, v in sorted(stats.refusals.items())) or "none"
    print(f"  refusals            {refusals}")
    print(
        f"  saved               {stats.input_tokens_saved:,} tokens in, "
        f"{stats.output_tokens_saved:,} out, cost {stats.cost_saved:.4f}"
    )
    for stage, histogram in sorted(stats.latency.items()):
        p50 = histogram.quantile(0.5)
        print(f"  {stage:<19} {histogram.count:,} timed, p50 <= {(p50 or 0) * 1e3:.2f} ms")


def _clear(args: argparse.Namespace) -> int:
    with _open_existing(args.path, read_only=False) as cache:
        removed = cache.clear()
    print(f"removed {removed:,} entries from {args.path}")
    return 0


def _repair(args: argparse.Namespace) -> int:
    _expect_cache_dir(args.path)
    report = repair(args.path)
    if report.damage is None:
        print(f"{args.path}: sound, {report.entries:,} entries; nothing changed")
        return 0
    print(f"damage                {report.damage}")
    print(
        f"kept                  {report.snapshot_entries:,} snapshot entries, "
        f"{report.log_records:,} log records: {report.entries:,} entries now"
    )
    print(f"lost                  {report.lost_records:,} log records")
    for file, start, end in report.lost_ranges:
        print(f"lost bytes            {file} {start:,}..{end:,} ({end - start:,} bytes)")
    print(f"damaged files kept in {report.moved_to}")
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from binary_semantic_cache.calibrate import calibrate
    from binary_semantic_cache.guards import PrecisionGuards

    result = calibrate(
        _read_pairs(args.pairs),
        target_precision=args.target_precision,
        embedder=_embedder(args.embedder),
        code_bits=args.code_bits,
        rescore=args.rescore,
        guards=None if args.no_guards else PrecisionGuards(),
    )
    print(f"similarity_threshold  {result.threshold:.4f}")
    print(f"precision             {result.precision:.2%}")
    print(f"hit rate              {result.hit_rate:.2%} of {result.duplicates:,} duplicates")
    false_pairs = result.pairs - result.duplicates
    print(f"false hits            {result.false_hit_rate:.2%} of {false_pairs:,} other pairs")
    print(f"guard refusals        {result.guard_refusals:,}")
    if args.verifier_out is not None:
        from binary_semantic_cache.calibrate import calibrate_verifier

        model = calibrate_verifier(_read_pairs(args.pairs))
        args.verifier_out.write_text(model.to_json() + "\n", encoding="utf-8")
        print(f"verifier model        {args.verifier_out}")
    return 0


def _embedder(name: str) -> Embedder:
    kind, _, model = name.partition(":")
    if kind == "default" and not model:
        from binary_semantic_cache.embeddings import DefaultEmbedder

        return DefaultEmbedder()
    if kind == "openai" and model:
        from binary_semantic_cache.embeddings import OpenAIEmbedder

        return OpenAIEmbedder(model)
    if kind == "ollama" and model:
        from binary_semantic_cache.embeddings import OllamaEmbedder

        return OllamaEmbedder(model)
    msg = f"--embedder must be default, openai:MODEL or ollama:MODEL, got {name!r}"
    raise ValueError(msg)


def _read_pairs(path: Path) -> Iterator[tuple[str, str, bool]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                yield _pair(line, f"{path}:{number}")


def _pair(line: str, where: str) -> tuple[str, str, bool]:
    try:
        row = json.loads(line)
        a, b, label = row["a"], row["b"], row["label"]
    except (ValueError, TypeError, KeyError):
        a = b = label = None
    if not (isinstance(a, str) and isinstance(b, str) and label in (0, 1)):
        msg = (
            f'{where}: expected {{"a": str, "b": str, "label": 0 or 1}}, got {line.strip()[:80]!r}'
        )
        raise ValueError(msg)
    return a, b, bool(label)
