"""What the request engine costs a LangChain hit, before it and after, in the same run.

Run: ``.venv/bin/python benchmarks/engine_overhead.py [--baseline REV] [--rounds N]``

"Before" is the Python code of ``--baseline`` (default: the last commit before the engine),
taken out of git into a temporary directory beside this build's compiled core, so both sides
run the same Rust and differ only in their Python. "After" is this checkout, with observability
off (the default) and on (OpenTelemetry spans through an SDK tracer provider with a span
batch processor whose exporter drops them, and a Prometheus collector registered and scraped
once a round); the SDK's own cost of one span is printed beside it: an exact-tier hit writes one
span, a semantic hit three (lookup, embed, search).
Each side runs in its own process, the sides alternate for ``--rounds`` rounds, and the figures
are the medians over the rounds of each round's p50, with the ratio after/before.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "432811f"  # the last commit before binary_semantic_cache.request_engine
PACKAGES = ("binary_semantic_cache", "bsc_langchain")

# Runs in a worker process: times LangChain hits through whichever bsc_langchain it imports.
WORKER = r"""
import json, statistics, sys, time
from langchain_core.globals import set_llm_cache
from langchain_core.language_models import FakeListChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from binary_semantic_cache.embeddings import DefaultEmbedder
from bsc_langchain import BinarySemanticLLMCache

calls, observed = int(sys.argv[1]), sys.argv[2] == "on"
options = {}
if observed:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    from prometheus_client import CollectorRegistry, generate_latest
    from binary_semantic_cache.prometheus import register

    class Drop(SpanExporter):
        def export(self, spans):
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Drop()))
    options["tracing"] = tracer = provider.get_tracer("bench")

embedder = DefaultEmbedder()
embedder.embed(["warm up"])
cache = BinarySemanticLLMCache(embedder, **options)
if observed:
    registry = CollectorRegistry()
    register(cache, registry=registry)
set_llm_cache(cache)
model = FakeListChatModel(responses=["A short answer from the model."])
system = SystemMessage("You are a helpful support assistant.")
stored = [system, HumanMessage("How do I reset my password?")]
paraphrase = [system, HumanMessage("How can I reset my password?")]
model.invoke(stored)

def p50(messages, n, hit_kind):
    times = []
    for _ in range(n):
        start = time.perf_counter_ns()
        message = model.invoke(messages)
        times.append((time.perf_counter_ns() - start) / 1000)
        assert message.response_metadata.get("cache_tier") == hit_kind
    return statistics.median(times)

p50(stored, 200, "exact")  # warm-up
p50(paraphrase, 50, "semantic")  # the paraphrase's vector is memoised from here on
result = {"exact": p50(stored, calls, "exact"), "semantic": p50(paraphrase, calls, "semantic")}
if observed:
    generate_latest(registry)
    # What the SDK itself charges for one span: the floor of tracing's cost per span written.
    times = []
    for _ in range(calls):
        start = time.perf_counter_ns()
        tracer.start_span("bench", attributes={"a": 1}).end()
        times.append((time.perf_counter_ns() - start) / 1000)
    result["span"] = statistics.median(times)
print(json.dumps(result))
"""


def baseline_tree(rev: str, into: Path) -> Path:
    """The baseline's Python packages under ``into``, with this build's compiled core."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev, *PACKAGES],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    for built in (ROOT / "binary_semantic_cache").glob("_core*.so"):
        shutil.copy(built, into / "binary_semantic_cache" / built.name)
    return into


def run(pythonpath: Path, calls: int, observed: bool) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    out = subprocess.run(
        [sys.executable, "-c", WORKER, str(calls), "on" if observed else "off"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=pythonpath,
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", default=BASELINE, help="git revision timed as 'before'")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per side")
    parser.add_argument("--calls", type=int, default=2000, help="timed invoke() calls per figure")
    args = parser.parse_args()

    sides: dict[str, list[dict[str, float]]] = {"before": [], "after, off": [], "after, on": []}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        before = baseline_tree(args.baseline, Path(tmp))
        for _ in range(args.rounds):
            sides["before"].append(run(before, args.calls, observed=False))
            sides["after, off"].append(run(ROOT, args.calls, observed=False))
            sides["after, on"].append(run(ROOT, args.calls, observed=True))

    medians = {
        side: {kind: statistics.median(r[kind] for r in results) for kind in ("exact", "semantic")}
        for side, results in sides.items()
    }
    print(
        f"LangChain invoke() of a cache hit, p50 us (median of {args.rounds} alternating rounds "
        f"of {args.calls} calls; before = {args.baseline}), {time.perf_counter() - started:.0f} s"
    )
    print(f"{'':14} {'exact-tier hit':>16} {'/before':>8} {'semantic hit':>14} {'/before':>8}")
    base = medians["before"]
    for side, figures in medians.items():
        print(
            f"{side:14} {figures['exact']:16.1f} {figures['exact'] / base['exact']:7.2f}x "
            f"{figures['semantic']:14.1f} {figures['semantic'] / base['semantic']:7.2f}x"
        )
    span = statistics.median(r["span"] for r in sides["after, on"])
    print(f"OpenTelemetry SDK, one start_span() + end(): {span:.1f} us")


if __name__ == "__main__":
    main()
