"""Load time and throughput of the default embedder, as ratios against one-by-one calls.

Run: .venv/bin/python benchmarks/embedders.py [--texts N] [--rounds N]

Texts are QQP questions from ../shared/data/qqp-dev.jsonl.gz when present (read in place,
never copied), else generated sentences. Every figure comes from this one run.

The first table sets the embedder as it was before issue 19 (the tokenizer's batch call for
a lone question; built here explicitly) beside the embedder as it is and beside ``spin=False``
(onnxruntime threads that sleep rather than busy-wait). They take turns (question by question,
then hit round by hit round, then batch by batch), so all see the same load on a shared
machine; each round gives a ratio, and the median of the rounds' ratios is the figure.
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

from langchain_overhead import semantic_hits
from tokenizers import Encoding, Tokenizer

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


class Before(DefaultEmbedder):
    """The default embedder before issue 19: the same session, the old tokenizer call."""

    def _encode(self, tokenizer: Tokenizer, items: list[str]) -> list[Encoding]:
        return tokenizer.encode_batch(items)


def singles_p50(embedders: list[DefaultEmbedder], texts: list[str]) -> list[float]:
    """p50 of embedding one question, the embedders taking turns question by question."""
    times = [[timed(partial(e.embed, [t])) for e in embedders] for t in texts]
    return [statistics.median(column) for column in zip(*times, strict=True)]


def hit_p50(embedder: DefaultEmbedder) -> float:
    """p50 of a LangChain semantic hit on a question never embedded before (a paraphrase)."""
    fresh, _ = semantic_hits(embedder, rounds=1)
    return statistics.median(fresh) / 1e6


def before_and_after(texts: list[str], rounds: int) -> None:
    names = ["before", "after", "spin=False"]
    embedders = [Before(), DefaultEmbedder(), DefaultEmbedder(spin=False)]
    for e in embedders:
        e.embed(texts[:32])
    figures: dict[str, list[list[float]]] = {
        "one question, embed p50": [],
        "LangChain semantic hit p50": [],
        f"embed({len(texts)} texts), batch": [],
    }
    for _ in range(rounds):
        single, hits, batch = figures.values()
        single.append(singles_p50(embedders, texts[:200]))
        hits.append([hit_p50(e) for e in embedders])
        batch.append([timed(partial(e.embed, texts)) for e in embedders])
    print(f"\nbefore vs after, {rounds} rounds taking turns; ms; ratio = before / other")
    print(f"{'':28}" + "".join(f"{n:>12}" for n in names) + "   ratios (median of rounds)")
    for name, runs in figures.items():
        ms = [statistics.median(column) * 1e3 for column in zip(*runs, strict=True)]
        ratios = [statistics.median(r[0] / r[i] for r in runs) for i in range(1, len(embedders))]
        shown = ", ".join(f"{n} {x:.2f}x" for n, x in zip(names[1:], ratios, strict=True))
        print(f"{name:28}" + "".join(f"{x:12.2f}" for x in ms) + f"   {shown}")


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def row(mode: str, rate: float, base_rate: float) -> None:
    print(f"{mode:<28}{rate:>10.0f}{rate / base_rate:>15.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=512, help="texts per throughput run")
    parser.add_argument("--rounds", type=int, default=5, help="before/after rounds")
    args = parser.parse_args()
    texts, source = load_texts(args.texts)
    print(f"default embedder on {os.cpu_count()} CPUs; {len(texts)} texts: {source}")

    embedder = DefaultEmbedder()
    load = timed(embedder.load)
    print(f"load (tokenizer + ONNX session, once per process): {load:.3f} s")
    before_and_after(texts, args.rounds)

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
