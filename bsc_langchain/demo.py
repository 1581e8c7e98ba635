"""The main job: a LangChain chain with ``set_llm_cache(BinarySemanticLLMCache())``.

Run ``python -m bsc_langchain.demo``. Offline: the questions are the project's own
(:mod:`bsc_langchain.demo_data`) and the model is a fake chat model that sleeps like a hosted
one. First every question is asked once, then paraphrases, repeats and near misses in a shuffled
order. The summary counts exact and semantic hits, misses and wrong hits (a hit that served the
answer of a different question), and compares hit and miss latency. ``--qqp PATH`` runs labelled
Quora question pairs instead (``qqp-dev.jsonl.gz``: a ``b`` after its ``a``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.globals import set_llm_cache
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.prompts import ChatPromptTemplate
from tqdm import tqdm

from binary_semantic_cache._adapter import word_pieces
from bsc_langchain.cache import BinarySemanticLLMCache
from bsc_langchain.demo_data import GROUPS, NEAR_MISSES
from bsc_langchain.stats import ModelPrice

__all__ = ["Ask", "SlowFakeChatModel", "main", "qqp_workload", "run", "workload"]

MODEL_NAME = "demo-model"
#: Illustrative list price per million tokens (input, output) of a mid-range hosted model.
DEMO_PRICE = ModelPrice(input_per_million=2.50, output_per_million=10.00)
SYSTEM_PROMPT = "You are a helpful support assistant. Answer in one or two sentences."


@dataclass(frozen=True, slots=True)
class Ask:
    """One call of the workload: the question and the key of the answer it should get."""

    question: str
    answer_key: str


@dataclass(frozen=True, slots=True)
class CallRecord:
    ask: Ask
    seconds: float
    tier: str  # "miss", "exact" or "semantic"
    served_key: str
    similarity: float | None
    streamed: bool


class SlowFakeChatModel(BaseChatModel):
    """A fake chat model that waits like a hosted one, then answers from a table.

    The wait is drawn uniformly from ``[min_delay, max_delay]`` seconds. Token usage is
    estimated from word counts so the cache can report what its hits saved.

    Example:
        .. code-block:: python

            model = SlowFakeChatModel(answers={"Hi?": "Hello."}, min_delay=0.3, max_delay=0.8)
            model.invoke("Hi?").content  # "Hello." after 0.3-0.8 s
    """

    answers: dict[str, str]
    min_delay: float = 0.3
    max_delay: float = 0.8
    seed: int = 0
    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "slow-fake-chat-model"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        # The answer table is test scaffolding, not a model setting: keep it out of llm_string.
        return {"model_name": MODEL_NAME}

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.calls += 1
        rng = random.Random(self.seed * 1_000_003 + self.calls)
        time.sleep(rng.uniform(self.min_delay, self.max_delay))
        question = messages[-1].text
        answer = self.answers.get(question, "I don't know.")
        input_tokens = sum(_tokens(m.text) for m in messages)
        output_tokens = _tokens(answer)
        message = AIMessage(
            answer,
            response_metadata={"model_name": MODEL_NAME, "finish_reason": "stop"},
            usage_metadata={
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "total_tokens": input_tokens + output_tokens,
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        # The same wait, then the answer word by word; usage and metadata come last, as from
        # hosted models.
        message = self._generate(messages, stop, run_manager, **kwargs).generations[0].message
        pieces = word_pieces(message.text)
        for piece in pieces[:-1]:
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
        last = AIMessageChunk(
            content=pieces[-1],
            response_metadata=message.response_metadata,
            usage_metadata=getattr(message, "usage_metadata", None),
        )
        yield ChatGenerationChunk(message=last)


def _tokens(text: str) -> int:
    # About 4 tokens for every 3 English words: enough for an estimate of cost saved.
    return max(1, round(len(text.split()) * 4 / 3))


def workload(seed: int) -> tuple[list[Ask], dict[str, str]]:
    """The built-in workload: every question once, then rewordings, repeats and near misses."""
    rng = random.Random(seed)
    answers = {g.key: g.answer for g in (*GROUPS, *NEAR_MISSES)}
    first = [Ask(g.question, g.key) for g in GROUPS]
    later = [Ask(p, g.key) for g in GROUPS for p in g.paraphrases]
    later += [Ask(g.question, g.key) for g in rng.sample(GROUPS, k=len(GROUPS) // 2)]
    later += [Ask(g.question, g.key) for g in NEAR_MISSES]
    later += rng.sample(later, k=len(later) // 8)
    rng.shuffle(later)
    return first + later, answers


def qqp_workload(path: Path, pairs: int, seed: int) -> tuple[list[Ask], dict[str, str]]:
    """Labelled question pairs: all ``a`` first, then the ``b`` of each pair, shuffled.

    The ``b`` of a duplicate pair (label 1) should get its ``a``'s answer; any other hit is
    counted as wrong, though an unlabelled pair of other questions may still be duplicates.
    """
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines]
    rng = random.Random(seed)
    duplicates = [r for r in rows if r["label"] == 1]
    distinct = [r for r in rows if r["label"] == 0]
    chosen = rng.sample(duplicates, k=pairs // 2) + rng.sample(distinct, k=pairs - pairs // 2)
    first: list[Ask] = []
    later: list[Ask] = []
    for i, row in enumerate(chosen):
        key_a = f"pair-{i}"
        key_b = key_a if row["label"] == 1 else f"pair-{i}-b"
        first.append(Ask(row["a"], key_a))
        later.append(Ask(row["b"], key_b))
    rng.shuffle(first)
    rng.shuffle(later)
    answers = {ask.answer_key: f"Answer for {ask.answer_key}." for ask in first + later}
    return first + later, answers


def run(
    asks: Sequence[Ask],
    answers: dict[str, str],
    cache: BinarySemanticLLMCache,
    model: SlowFakeChatModel,
    *,
    progress: bool = True,
) -> list[CallRecord]:
    """Send every question through ``prompt | model`` with ``cache`` as the global LLM cache.

    Every third call streams (``chain.stream``), as a chat backend relaying tokens would.
    """
    set_llm_cache(cache)
    key_of_answer = {text: key for key, text in answers.items()}
    chain = ChatPromptTemplate.from_messages([("system", SYSTEM_PROMPT), ("human", "{question}")])
    chain_with_model = chain | model
    records: list[CallRecord] = []
    for i, ask in enumerate(tqdm(asks, desc="questions", unit="call", disable=not progress)):
        streamed = i % 3 == 2
        start = time.perf_counter()
        if streamed:
            reply: Any = None
            for chunk in chain_with_model.stream({"question": ask.question}):
                reply = chunk if reply is None else reply + chunk
        else:
            reply = chain_with_model.invoke({"question": ask.question})
        seconds = time.perf_counter() - start
        metadata = reply.response_metadata
        tier = metadata.get("cache_tier", "miss") if metadata.get("cache_hit") else "miss"
        records.append(
            CallRecord(
                ask=ask,
                seconds=seconds,
                tier=tier,
                served_key=key_of_answer.get(reply.text, "?"),
                similarity=metadata.get("cache_similarity"),
                streamed=streamed,
            )
        )
    return records


def summarise(records: Sequence[CallRecord], cache: BinarySemanticLLMCache, wall: float) -> str:
    """The report printed at the end of the demo."""
    stats = cache.stats()
    by_tier: dict[str, list[float]] = {"miss": [], "exact": [], "semantic": []}
    for record in records:
        by_tier[record.tier].append(record.seconds)
    wrong = [r for r in records if r.tier != "miss" and r.served_key != r.ask.answer_key]
    streams = [r for r in records if r.streamed]
    streamed_hits = sum(r.tier != "miss" for r in streams)
    hits = len(by_tier["exact"]) + len(by_tier["semantic"])
    miss_p50 = _p50(by_tier["miss"])
    hit_p50 = _p50(by_tier["exact"] + by_tier["semantic"])
    lines = [
        "",
        f"calls                      {len(records)}",
        f"  model calls (misses)     {len(by_tier['miss'])}",
        f"  exact hits               {len(by_tier['exact'])}",
        f"  semantic hits            {len(by_tier['semantic'])}",
        f"  wrong hits               {len(wrong)}   (served the answer of another question)",
        f"  streamed calls           {len(streams)}   ({streamed_hits} of them answered from "
        "the cache, replayed as chunks)",
        f"  guard refusals           {stats.guard_refusals}   (semantic matches refused as "
        "differing in a number, date, name...)",
        f"hit rate                   {hits / max(1, len(records)):.0%}",
        f"p50 latency, miss          {_ms(by_tier['miss'])}",
        f"p50 latency, exact hit     {_ms(by_tier['exact'])}",
        f"p50 latency, semantic hit  {_ms(by_tier['semantic'])}",
        f"p50 miss / p50 hit         {miss_p50 / hit_p50 if hit_p50 else float('nan'):9.0f}x",
        f"model calls saved          {stats.model_calls_saved}",
        f"model time saved           {hits * statistics.fmean(by_tier['miss'] or [0.0]):9.1f} s"
        "   (hits x mean miss latency)",
        f"tokens saved               {stats.input_tokens_saved} in, "
        f"{stats.output_tokens_saved} out",
        f"cost saved                 ${stats.cost_saved:.6f}   (at an illustrative "
        f"${DEMO_PRICE.input_per_million:.2f} / ${DEMO_PRICE.output_per_million:.2f} "
        "per million tokens in / out)",
        f"cache errors               {stats.errors}",
        f"wall time                  {wall:.1f} s",
    ]
    for record in wrong:
        lines.append(
            f"  wrong hit: {record.ask.question!r} got the answer for {record.served_key!r} "
            f"(similarity {record.similarity:.3f})"
        )
    return "\n".join(lines)


def _p50(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _ms(values: Sequence[float]) -> str:
    return f"{_p50(values) * 1e3:9.3f} ms" if values else "      n/a   (none)"


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point of ``python -m bsc_langchain.demo``."""
    parser = argparse.ArgumentParser(prog="python -m bsc_langchain.demo", description=__doc__)
    parser.add_argument("--qqp", type=Path, help="qqp-dev.jsonl.gz: use labelled Quora pairs")
    parser.add_argument("--pairs", type=int, default=40, help="pairs to use with --qqp")
    parser.add_argument("--min-delay", type=float, default=0.3, help="seconds, model call")
    parser.add_argument("--max-delay", type=float, default=0.8, help="seconds, model call")
    parser.add_argument("--threshold", type=float, help="similarity threshold (default: core's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-guards", action="store_true", help="serve semantic hits without precision guards"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    if not 0 <= args.min_delay <= args.max_delay:
        parser.error("need 0 <= --min-delay <= --max-delay")

    if args.qqp is not None:
        asks, answers_by_key = qqp_workload(args.qqp, args.pairs, args.seed)
    else:
        asks, answers_by_key = workload(args.seed)
    answers = {ask.question: answers_by_key[ask.answer_key] for ask in asks}
    extra = {} if args.threshold is None else {"similarity_threshold": args.threshold}
    print("Loading the offline embedding model ...", file=sys.stderr)
    cache = BinarySemanticLLMCache(
        prices={MODEL_NAME: DEMO_PRICE}, guards=not args.no_guards, **extra
    )
    model = SlowFakeChatModel(
        answers=answers, min_delay=args.min_delay, max_delay=args.max_delay, seed=args.seed
    )
    print(
        f"{len(asks)} questions through prompt | chat model (each model call sleeps "
        f"{args.min_delay}-{args.max_delay} s); cache: {cache!r}",
        file=sys.stderr,
    )
    start = time.perf_counter()
    records = run(asks, answers_by_key, cache, model, progress=not args.no_progress)
    print(summarise(records, cache, time.perf_counter() - start))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
