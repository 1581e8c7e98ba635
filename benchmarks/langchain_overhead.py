"""What BinarySemanticLLMCache costs per LangChain call, against InMemoryCache and no cache.

Run: ``.venv/bin/python benchmarks/langchain_overhead.py [--calls N]``

Every figure is the time of one ``model.invoke(messages)`` with an instant fake chat model, so
it is the cost of LangChain plus the cache. Ratios are against baselines measured in this same
run (figures drift between runs on a shared machine). The semantic tier is timed two ways: with
a question never embedded before (the real first-time cost, dominated by the embedding model)
and with its vector already memoised (what the index, the payload and LangChain add).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Sequence

from langchain_core.caches import BaseCache, InMemoryCache
from langchain_core.globals import set_llm_cache
from langchain_core.language_models import FakeListChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from binary_semantic_cache.embeddings import DefaultEmbedder
from bsc_langchain import BinarySemanticLLMCache
from bsc_langchain.demo_data import GROUPS

SYSTEM = SystemMessage("You are a helpful support assistant. Answer in one or two sentences.")
WORDS = (
    "apple river engine violin tax glacier poem server orbit bread lawyer magnet tulip",
    "harbor chess vaccine desert guitar ledger comet pepper robot canyon opera wallet",
    "thunder vitamin bridge kernel falcon marble sonnet tractor lemon satellite archive",
)
VOCABULARY = " ".join(WORDS).split()


def ask(question: str) -> list[BaseMessage]:
    return [SYSTEM, HumanMessage(question)]


def model_with(cache: BaseCache | None) -> FakeListChatModel:
    set_llm_cache(cache)
    return FakeListChatModel(responses=["A short answer from the model."])


def timed(model: FakeListChatModel, messages: list[BaseMessage]) -> float:
    """Microseconds of one ``invoke``."""
    start = time.perf_counter_ns()
    model.invoke(messages)
    return (time.perf_counter_ns() - start) / 1_000


def per_call(model: FakeListChatModel, prompts: Sequence[list[BaseMessage]]) -> list[float]:
    return [timed(model, p) for p in prompts]


def unique_questions(count: int, seed: int) -> list[str]:
    """Questions that share no meaning with each other or the demo data (random word strings)."""
    rng = random.Random(seed)
    return [f"Tell me about {' '.join(rng.sample(VOCABULARY, 6))} {i}" for i in range(count)]


def semantic_hits(embedder: DefaultEmbedder, rounds: int) -> tuple[list[float], list[float]]:
    """Times of semantic-tier hits: first-time questions, then the same ones memoised."""
    fresh: list[float] = []
    memoised: list[float] = []
    paraphrases = [p for g in GROUPS for p in g.paraphrases]
    for _ in range(rounds):
        cache = BinarySemanticLLMCache(embedder)
        model = model_with(cache)
        for group in GROUPS:
            model.invoke(ask(group.question))
        for tier_times in (fresh, memoised):
            for paraphrase in paraphrases:
                before = cache.stats().semantic_hits
                micros = timed(model, ask(paraphrase))
                if cache.stats().semantic_hits > before:
                    tier_times.append(micros)
    return fresh, memoised


def p50(values: Sequence[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000, help="timed calls per hit figure")
    parser.add_argument("--misses", type=int, default=200, help="timed calls per miss figure")
    parser.add_argument("--rounds", type=int, default=3, help="semantic-tier rounds")
    args = parser.parse_args()

    embedder = DefaultEmbedder()
    embedder.embed(["warm up"])
    repeat = [ask("How do I reset my password?")] * args.calls

    rows: list[tuple[str, list[float]]] = []
    with tempfile.TemporaryDirectory() as directory:
        persisted = BinarySemanticLLMCache(embedder, path=directory)
        for name, cache in (
            ("no cache (model call, instant fake)", None),
            ("InMemoryCache hit", InMemoryCache()),
            ("BinarySemanticLLMCache exact-tier hit", BinarySemanticLLMCache(embedder)),
            ("BinarySemanticLLMCache exact-tier hit, path=", persisted),
        ):
            model = model_with(cache)
            per_call(model, repeat[:200])  # warm-up, and fills the cache
            rows.append((name, per_call(model, repeat)))
        persisted.close()
    fresh, memoised = semantic_hits(embedder, args.rounds)
    rows.append(("BinarySemanticLLMCache semantic hit, new question", fresh))
    rows.append(("BinarySemanticLLMCache semantic hit, vector memoised", memoised))

    no_cache, in_memory = p50(rows[0][1]), p50(rows[1][1])
    print(f"invoke() per call, p50 over the timed calls ({args.calls} per hit figure)")
    print(f"{'':54} {'p50 us':>9} {'mean us':>9} {'n':>6} {'/InMemory':>10} {'/no cache':>10}")
    for name, times in rows:
        print(
            f"{name:54} {p50(times):9.1f} {statistics.fmean(times):9.1f} {len(times):6d} "
            f"{p50(times) / in_memory:9.2f}x {p50(times) / no_cache:9.2f}x"
        )

    print(f"\nmiss: what a cache adds to a model call (lookup + update), {args.misses} questions")
    questions = unique_questions(args.misses + 20, seed=1)
    misses: list[tuple[str, float]] = []
    for name, cache in (
        ("no cache", None),
        ("InMemoryCache", InMemoryCache()),
        ("BinarySemanticLLMCache", BinarySemanticLLMCache(embedder)),
    ):
        model = model_with(cache)
        per_call(model, [ask(q) for q in questions[:20]])  # warm-up; the partition now exists
        times = []
        for question in questions[20:]:
            hits_before = cache.stats().hits if isinstance(cache, BinarySemanticLLMCache) else 0
            micros = timed(model, ask(question))
            # Random word strings share a template, so a few may hit; keep only true misses.
            if not isinstance(cache, BinarySemanticLLMCache) or cache.stats().hits == hits_before:
                times.append(micros)
        misses.append((name, p50(times)))
    base = misses[0][1]
    for name, micros in misses:
        print(f"  {name:30} p50 {micros:9.1f} us   adds {micros - base:9.1f} us to the call")
    set_llm_cache(None)


if __name__ == "__main__":
    main()
