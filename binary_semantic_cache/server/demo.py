"""``make serve-demo``: ``bsc-cache serve`` in front of a local fake upstream (300 ms an answer),
driven by the ``openai`` client; prints each call's cache header and latency, then the totals.

    python -m binary_semantic_cache.server.demo
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import openai

from binary_semantic_cache.server.fake_upstream import FakeUpstream

# (API key, question, how it is asked)
_CALLS = (
    ("sk-alice", "What is the capital of France?", "new"),
    ("sk-alice", "What is the capital of France?", "repeat"),
    ("sk-alice", "What's the capital city of France?", "paraphrase"),
    ("sk-alice", "How do I reset my password?", "new, streamed"),
    ("sk-alice", "How can I reset my password?", "paraphrase, streamed"),
    ("sk-alice", "Best laptops under $500 in 2023", "new"),
    ("sk-alice", "Best laptops under $500 in 2024", "another year: refused"),
    ("sk-bob", "What is the capital of France?", "another tenant"),
    ("sk-alice", "What is the capital of France?", "Cache-Control: no-cache"),
)


def main() -> int:
    upstream = FakeUpstream(latency=0.3, chunk_delay=0.01)
    port = _free_port()
    command = ["bsc-cache", "serve", "--upstream", upstream.url, "--port", str(port)]
    print("$ " + " ".join(command))
    server = subprocess.Popen([sys.executable, "-m", "binary_semantic_cache", *command[1:]])
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_ready(base, server)
        _drive(base, upstream)
    finally:
        server.terminate()
        server.wait(timeout=10)
        upstream.close()
    return 0


def _drive(base: str, upstream: FakeUpstream) -> None:
    latencies: dict[str, list[float]] = {"hit": [], "miss": []}
    print(f"\n{'asked as':<24} {'x-bsc-cache':<12} {'tier':<9} {'sim':>6} {'ms':>6}  answer")
    for key, question, how in _CALLS:
        client = openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0)
        headers = {"Cache-Control": "no-cache"} if "no-cache" in how else {}
        messages: list[openai.types.chat.ChatCompletionMessageParam] = [
            {"role": "user", "content": question}
        ]
        start = time.perf_counter()
        if "streamed" in how:
            with client.chat.completions.with_streaming_response.create(
                model="fake-model", messages=messages, stream=True, extra_headers=headers
            ) as streamed:
                marks = streamed.headers
                answer = "".join(
                    chunk.choices[0].delta.content or ""
                    for chunk in streamed.parse()
                    if chunk.choices
                )
        else:
            raw = client.chat.completions.with_raw_response.create(
                model="fake-model", messages=messages, extra_headers=headers
            )
            marks, answer = raw.headers, raw.parse().choices[0].message.content or ""
        seconds = time.perf_counter() - start
        served = marks.get("x-bsc-cache", "?")
        latencies["hit" if served == "hit" else "miss"].append(seconds)
        print(
            f"{how:<24} {served:<12} {marks.get('x-bsc-cache-tier', '-'):<9} "
            f"{marks.get('x-bsc-cache-similarity', '-'):>6} {seconds * 1000:6.0f}  {answer[:44]}"
        )
    hits, misses = latencies["hit"], latencies["miss"]
    print(
        f"\n{len(hits)} hits (mean {_mean_ms(hits)} ms), {len(misses)} misses "
        f"(mean {_mean_ms(misses)} ms); the upstream answered {len(upstream.chat_calls())} of "
        f"{len(_CALLS)} calls"
    )
    metrics = httpx.get(f"{base}/metrics").text.splitlines()
    print("\n/metrics (excerpt):")
    wanted = ("bsc_cache_hits_total", "bsc_cache_refusals_total", "bsc_cache_misses")
    for line in metrics:
        if line.startswith(wanted) and 'cache="chat"' in line:
            print("  " + line)


def _mean_ms(values: list[float]) -> str:
    return f"{sum(values) / len(values) * 1000:.0f}" if values else "-"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with status {server.returncode}")
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("the server did not answer /healthz within 60 s")


if __name__ == "__main__":
    raise SystemExit(main())
