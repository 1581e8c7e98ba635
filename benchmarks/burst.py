"""A burst of one new question, and a streamed hit, against no cache and LangChain's InMemoryCache.

Run: ``.venv/bin/python benchmarks/burst.py [--delay 0.3] [--burst 50]``

The model is langchain-core's GenericFakeChatModel made to wait ``--delay`` seconds before
answering (as a hosted model does) and counting its calls. Each cache sees the same bursts in
the same run: ``--burst`` concurrent ``ainvoke``, ``--burst`` threads calling ``invoke``, and
one ``batch`` of 20 copies, every burst with a question new to the cache. Then the time to the
first chunk of a ``stream``: the model's (a miss), and a streamed hit's.
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from langchain_core.caches import BaseCache, InMemoryCache
from langchain_core.globals import set_llm_cache
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from binary_semantic_cache.embeddings import DefaultEmbedder
from bsc_langchain import BinarySemanticLLMCache

ANSWER = "The kettle has a two-year warranty covering the heating element and the switch."


class SlowModel(GenericFakeChatModel):
    """Waits ``delay`` seconds, then answers; streams word by word after the same wait."""

    delay: float = 0.3
    calls: int = 0
    lock: Any = None

    def _count(self) -> None:
        with self.lock:
            self.calls += 1

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        time.sleep(self.delay)
        self._count()
        return ChatResult(generations=[ChatGeneration(message=AIMessage(ANSWER))])

    async def _agenerate(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> ChatResult:
        await asyncio.sleep(self.delay)
        self._count()
        return ChatResult(generations=[ChatGeneration(message=AIMessage(ANSWER))])

    def _stream(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        time.sleep(self.delay)
        self._count()
        for word in ANSWER.split(" "):
            time.sleep(0.01)
            yield ChatGenerationChunk(message=AIMessageChunk(content=word + " "))


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def bursts(
    cache: BaseCache | None, args: argparse.Namespace, tag: str
) -> list[tuple[str, float, int]]:
    """(burst, wall seconds, model calls) for each burst through ``cache``."""
    set_llm_cache(cache)
    rows = []
    model = SlowModel(messages=iter(()), delay=args.delay, lock=threading.Lock())

    def ask(question: str) -> Callable[[], object]:
        return lambda: model.invoke([HumanMessage(question)])

    async def concurrent(question: str) -> None:
        await asyncio.gather(*(model.ainvoke([HumanMessage(question)]) for _ in range(args.burst)))

    def threads(question: str) -> None:
        with ThreadPoolExecutor(args.burst) as pool:
            for future in [pool.submit(ask(question)) for _ in range(args.burst)]:
                future.result()

    for name, run in (
        (f"{args.burst} x ainvoke", lambda: asyncio.run(concurrent(f"{tag} async question?"))),
        (f"{args.burst} threads x invoke", lambda: threads(f"{tag} thread question?")),
        (
            "batch of 20 copies",
            lambda: model.batch([[HumanMessage(f"{tag} batch question?")]] * 20),
        ),
    ):
        before = model.calls
        rows.append((name, timed(run), model.calls - before))
    return rows


def first_chunk(model: SlowModel, question: str) -> float:
    start = time.perf_counter()
    stream = model.stream([HumanMessage(question)])
    next(stream)
    seconds = time.perf_counter() - start
    for _ in stream:  # read to the end: only a complete stream is stored
        pass
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--delay", type=float, default=0.3, help="seconds a model call waits")
    parser.add_argument("--burst", type=int, default=50, help="concurrent callers per burst")
    args = parser.parse_args()

    embedder = DefaultEmbedder()
    embedder.embed(["warm up"])
    caches: list[tuple[str, BaseCache | None]] = [
        ("no cache", None),
        ("InMemoryCache", InMemoryCache()),
        ("BinarySemanticLLMCache", BinarySemanticLLMCache(embedder)),
    ]
    print(f"bursts of one new question; the model waits {args.delay} s a call")
    print(f"{'':24} {'burst':24} {'wall s':>8} {'model calls':>12}")
    for name, cache in caches:
        for burst, seconds, calls in bursts(cache, args, tag=name):
            print(f"{name:24} {burst:24} {seconds:8.2f} {calls:12d}")

    cache = BinarySemanticLLMCache(embedder)
    set_llm_cache(cache)
    model = SlowModel(messages=iter(()), delay=args.delay, lock=threading.Lock())
    miss = first_chunk(model, "Does the warranty cover the switch?")
    hit = first_chunk(model, "Does the warranty cover the switch?")
    paraphrase = first_chunk(model, "Is the switch covered by the warranty?")
    print("\ntime to the first chunk of stream()")
    print(f"  model (a miss)            {miss * 1e3:9.1f} ms")
    print(f"  streamed hit, exact       {hit * 1e3:9.1f} ms   ({miss / hit:.0f}x sooner)")
    sooner = miss / paraphrase
    print(f"  streamed hit, paraphrase  {paraphrase * 1e3:9.1f} ms   ({sooner:.0f}x sooner)")
    print(f"  model calls               {model.calls}   (stats: {cache.stats().hits} hits)")
    set_llm_cache(None)


if __name__ == "__main__":
    main()
