"""Load on the caching server: 100 concurrent openai-SDK clients, repeats, paraphrases and new
questions, against a fake upstream that takes 300 ms an answer; the same workload against the
upstream alone in the same run is the baseline.

The server runs as ``bsc-cache serve`` in its own process (default offline embedder, in memory),
the fake upstream in another, the clients in this one. Prints requests per second, p50/p99
latency of hits and misses, the upstream calls made, wrong answers and errors (there must be
none), and the server's CPU time per request.

    python benchmarks/server_load.py [--clients 100] [--requests 10] [--latency 0.3]
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import os
import random
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import openai

ROOT = Path(__file__).resolve().parents[1]
# A word list reads better as one string.
COUNTRIES = (  # noqa: SIM905
    "France Germany Italy Spain Portugal Norway Sweden Finland Poland Austria Greece Turkey "
    "Egypt Kenya Nigeria Ghana Morocco Brazil Argentina Chile Peru Colombia Mexico Canada Japan "
    "China India Vietnam Thailand Indonesia Australia Ireland Iceland Hungary Romania Ukraine "
    "Denmark Belgium Switzerland Croatia Serbia Bulgaria Ethiopia Tanzania Uganda Senegal"
).split()
# (question, a paraphrase of it) per template; the paraphrase means the same thing.
TEMPLATES = (
    ("What is the capital of {c}?", "What's the capital city of {c}?"),
    ("What language is spoken in {c}?", "Which language do people speak in {c}?"),
    ("What currency does {c} use?", "Which currency is used in {c}?"),
    ("What is the national dish of {c}?", "Which dish is the national dish of {c}?"),
    ("What is the highest mountain in {c}?", "Which mountain is the tallest in {c}?"),
    ("When is the best time to visit {c}?", "What is the best season to travel to {c}?"),
    ("What is the climate like in {c}?", "How is the weather in {c} generally?"),
    ("What sports are popular in {c}?", "Which sports do people in {c} like most?"),
)


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"hit": [], "miss": []})
    errors: list[str] = field(default_factory=list)
    wrong: int = 0  # hits whose answer was to another question
    kinds: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


class Workload:
    """Shared by the clients: new questions in a fixed order, and those asked so far."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        pairs = [(q.format(c=c), p.format(c=c)) for c in COUNTRIES for q, p in TEMPLATES]
        self.rng.shuffle(pairs)
        self._new = iter(pairs)
        self.asked: list[tuple[str, str]] = []
        # Both wordings of a question name the same pair: an answer to either serves both.
        self.pair_of = {text: index for index, pair in enumerate(pairs) for text in pair}

    def next(self) -> tuple[str, str]:
        """(kind, question): 40% new, 35% a repeat, 25% a paraphrase of one asked before."""
        roll = self.rng.random()
        if self.asked and roll >= 0.4:
            question, paraphrase = self.rng.choice(self.asked)
            return ("repeat", question) if roll < 0.75 else ("paraphrase", paraphrase)
        pair = next(self._new, None)
        if pair is None:  # every question asked: the rest are repeats
            return "repeat", self.rng.choice(self.asked)[0]
        self.asked.append(pair)
        return "new", pair[0]


async def run(base_url: str, clients: int, requests: int, seed: int) -> Tally:
    workload = Workload(seed)
    tally = Tally()

    async def client(number: int) -> None:
        sdk = openai.AsyncOpenAI(
            base_url=base_url, api_key="sk-load-test", max_retries=0, timeout=60
        )
        async with sdk:
            for _ in range(requests):
                kind, question = workload.next()
                tally.kinds[kind] = tally.kinds.get(kind, 0) + 1
                start = time.perf_counter()
                try:
                    raw = await sdk.chat.completions.with_raw_response.create(
                        model="fake-model", messages=[{"role": "user", "content": question}]
                    )
                    answer = raw.parse().choices[0].message.content or ""
                except openai.OpenAIError as exc:
                    tally.errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                served = "hit" if raw.headers.get("x-bsc-cache") == "hit" else "miss"
                # The fake upstream quotes (repr) the question it answered.
                answered = ast.literal_eval(
                    answer.partition("you asked ")[2].rpartition(", and")[0]
                )
                if workload.pair_of.get(answered) != workload.pair_of[question]:
                    tally.wrong += 1
                tally.latencies[served].append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    tally.seconds = time.perf_counter() - start
    return tally


def quantile(values: list[float], q: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.0f}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(upstream: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-m", "binary_semantic_cache", "serve", "--upstream", upstream]
    proc = subprocess.Popen([*command, "--port", str(port)], cwd=ROOT)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return proc, f"http://127.0.0.1:{port}/v1"
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the server did not start")
        time.sleep(0.1)


def cpu_time(pid: int) -> float:
    """User and system seconds a process has run (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class UpstreamProcess:
    """The fake upstream in its own process (its threads would slow this one's clients)."""

    def __init__(self, latency: float) -> None:
        command = [sys.executable, "-m", "binary_semantic_cache.server.fake_upstream"]
        self.proc = subprocess.Popen(
            [*command, "--latency", str(latency)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()

    def stop(self) -> int:
        """Stop it; return the chat completion calls it answered."""
        calls, _ = self.proc.communicate("\n", timeout=30)
        return int(calls)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--requests", type=int, default=10, help="per client")
    parser.add_argument("--latency", type=float, default=0.3, help="the upstream's, in seconds")
    args = parser.parse_args()
    results = {}
    for target in ("upstream alone", "through bsc-cache"):
        upstream = UpstreamProcess(args.latency)
        server = None
        try:
            url = upstream.url
            if target != "upstream alone":
                server, url = start_server(upstream.url)
                cpu_seconds = -cpu_time(server.pid)  # its start (imports, model) apart
            tally = asyncio.run(run(url, args.clients, args.requests, 7))
            if server is not None:
                cpu_seconds += cpu_time(server.pid)
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=10)
            calls = upstream.stop()
        results[target] = (tally, calls)
    total = args.clients * args.requests
    print(
        f"server_load: {args.clients} clients x {args.requests} requests ({total}), "
        f"upstream latency {args.latency * 1000:.0f} ms"
    )
    kinds = results["through bsc-cache"][0].kinds
    print(
        "workload: " + ", ".join(f"{kinds.get(k, 0)} {k}" for k in ("new", "repeat", "paraphrase"))
    )
    header = (
        "| target            | req/s | hits | p50 hit ms | p99 hit ms | misses | p50 miss ms "
        "| p99 miss ms | upstream calls | wrong answers | errors |"
    )
    print(header)
    print("|" + "|".join("-" * len(cell) for cell in header.split("|")[1:-1]) + "|")
    for target, (tally, calls) in results.items():
        hits, misses = tally.latencies["hit"], tally.latencies["miss"]
        rate = (len(hits) + len(misses)) / tally.seconds
        print(
            f"| {target:<17} | {rate:5.0f} | {len(hits):4} | {quantile(hits, 0.5):>10} "
            f"| {quantile(hits, 0.99):>10} | {len(misses):6} | {quantile(misses, 0.5):>11} "
            f"| {quantile(misses, 0.99):>11} | {calls:14} | {tally.wrong:13} "
            f"| {len(tally.errors):6} |"
        )
    ours, alone = results["through bsc-cache"], results["upstream alone"]
    speedup = (total / ours[0].seconds) / (total / alone[0].seconds)
    print(
        f"throughput through the cache: {speedup:.2f}x the upstream alone; upstream calls "
        f"{ours[1]} of {alone[1]}"
    )
    print(f"server CPU: {cpu_seconds / total * 1000:.1f} ms a request ({cpu_seconds:.1f} s)")
    errors = [e for tally, _ in results.values() for e in tally.errors]
    for error in errors[:5]:
        print(f"error: {error}")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
