"""Load time and throughput of the default embedder, as ratios against one-by-one calls.

Run: .venv/bin/python benchmarks/embedders.py [--texts N]

Texts are QQP questions from ../shared/data/qqp-dev.jsonl.gz when present (read in place,
never copied), else generated sentences. Every figure comes from this one run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from binary_semantic_cache.embeddings import DefaultEmbedder

QQP = Path(__file__).resolve().parents[2] / "shared" / "data" / "qqp-dev.jsonl.gz"


def load_texts(count: int) -> tuple[list[str], str]:
    if QQP.exists():
        texts: list[str] = []
        with gzip.open(QQP, "rt", encoding="utf-8") as lines:
            for line in lines:
                row = json.loads(line)
                texts.extend([row["a"], row["b"]])
                if len(texts) >= count:
                    return texts[:count], f"QQP dev questions ({QQP.name})"
    words = ["cache", "answer", "model", "prompt", "question", "vector", "binary", "query"]
    made = [" ".join(words[(i + j) % len(words)] for j in range(5 + i % 20)) for i in range(count)]
    return made, "generated sentences"


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def row(mode: str, rate: float, base_rate: float) -> None:
    print(f"{mode:<28}{rate:>10.0f}{rate / base_rate:>15.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=512, help="texts per throughput run")
    args = parser.parse_args()
    texts, source = load_texts(args.texts)
    print(f"default embedder on {os.cpu_count()} CPUs; {len(texts)} texts: {source}")

    embedder = DefaultEmbedder()
    load = timed(embedder.load)
    print(f"load (tokenizer + ONNX session, once per process): {load:.3f} s")

    embedder.embed(texts[:32])  # warm-up: first runs allocate buffers per shape
    singles = [timed(partial(embedder.embed, [t])) for t in texts[:200]]
    median = statistics.median(singles)
    p95 = sorted(singles)[int(len(singles) * 0.95)]
    print(f"one prompt: median {median * 1e3:.2f} ms, p95 {p95 * 1e3:.2f} ms")

    one_by_one = timed(lambda: [embedder.embed([t]) for t in texts])
    base_rate = len(texts) / one_by_one
    print(f"\n{'mode':<28}{'texts/s':>10}{'vs one-by-one':>16}")
    row("one-by-one", base_rate, base_rate)
    for batch_size in (8, 16, 32, 64):
        batched = DefaultEmbedder(batch_size=batch_size)
        row(
            f"embed(all), batch_size={batch_size}",
            len(texts) / timed(partial(batched.embed, texts)),
            base_rate,
        )
    single_thread = DefaultEmbedder(threads=1)
    single_thread.embed(texts[:32])
    row("embed(all), 1 thread", len(texts) / timed(partial(single_thread.embed, texts)), base_rate)


if __name__ == "__main__":
    main()
