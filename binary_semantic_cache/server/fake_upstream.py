"""A stand-in for an OpenAI-compatible API on 127.0.0.1, for the demo, the load test and tests.

It answers ``POST /v1/chat/completions`` (plain and streamed, with tool calls when tools are
offered, JSON for a ``response_format``), ``POST /v1/embeddings`` (float or base64) and
``GET /v1/models``. Its answers are deterministic except for a call number, so a refreshed
answer differs from the stored one. Requests can be answered with scripted errors, delayed, and
a stream can be held after some chunks until released.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

__all__ = ["Call", "FakeUpstream", "Scripted"]

MODEL = "fake-model"


@dataclass(frozen=True)
class Scripted:
    """An answer for the next request: ``status`` with ``body`` (JSON) and ``headers``."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    """A request the upstream received."""

    method: str
    path: str
    body: Any
    headers: dict[str, str]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # a hundred clients connect at once in the load test


class FakeUpstream:
    """Serves on ``url`` (the API root, ``.../v1``) until :meth:`close`.

    Args:
        latency: Seconds before each answer's first byte.
        chunk_delay: Seconds between the chunks of a stream.
        dim: Size of the embeddings.
    """

    def __init__(self, latency: float = 0.0, chunk_delay: float = 0.0, dim: int = 8) -> None:
        self.latency = latency
        self.chunk_delay = chunk_delay
        self.dim = dim
        self.calls: list[Call] = []
        #: With a count set, a stream stops after that many chunks until ``release`` is set.
        self.hold_after: int | None = None
        self.release = threading.Event()
        self._scripted: deque[Scripted] = deque()
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def then(self, *answers: Scripted) -> None:
        """Answer the next requests with ``answers``, in order."""
        with self._lock:
            self._scripted.extend(answers)

    def chat_calls(self) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.path == "/v1/chat/completions"]

    def close(self) -> None:
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- answers ---------------------------------------------------------------------------

    def _record(self, call: Call) -> tuple[int, Scripted | None]:
        with self._lock:
            self.calls.append(call)
            return len(self.calls), self._scripted.popleft() if self._scripted else None

    def _completion(self, body: dict[str, Any], number: int) -> dict[str, Any]:
        question = _last_text(body.get("messages") or [])
        message: dict[str, Any] = {"role": "assistant", "content": None}
        finish = "stop"
        tools = body.get("tools") or []
        if tools and body.get("tool_choice") != "none":
            name = tools[0].get("function", {}).get("name", "tool")
            arguments = json.dumps({"query": question})
            message["tool_calls"] = [
                {
                    "id": f"call_{number}",
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }
            ]
            finish = "tool_calls"
        elif (body.get("response_format") or {}).get("type") in ("json_schema", "json_object"):
            message["content"] = json.dumps({"answer": f"about {question}", "call": number})
        else:
            message["content"] = f"Answer {number}: you asked {question!r}, and here it is."
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
        completion_tokens = len(str(message["content"] or message.get("tool_calls")).split())
        return {
            "id": f"chatcmpl-up{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", MODEL),
            "system_fingerprint": "fp_fake",
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    def _embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        rows = []
        for index, text in enumerate(texts):
            seed = zlib.crc32(json.dumps(text).encode())
            vector = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
            vector /= np.linalg.norm(vector)
            value: Any = vector.tolist()
            if body.get("encoding_format") == "base64":
                value = base64.b64encode(vector.tobytes()).decode()
            rows.append({"object": "embedding", "index": index, "embedding": value})
        tokens = sum(len(str(t).split()) for t in texts)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return {"object": "list", "data": rows, "model": body.get("model"), "usage": usage}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                upstream._record(Call("GET", self.path, None, self._headers()))
                models = [{"id": MODEL, "object": "model", "created": 0, "owned_by": "bsc"}]
                self._json(200, {"object": "list", "data": models})

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                body = json.loads(raw)
                number, scripted = upstream._record(Call("POST", self.path, body, self._headers()))
                time.sleep(upstream.latency)
                if scripted is not None:
                    self._json(scripted.status, scripted.body, scripted.headers)
                elif self.path == "/v1/embeddings":
                    self._json(200, upstream._embeddings(body))
                elif self.path != "/v1/chat/completions":
                    self._json(404, {"error": {"message": f"no route {self.path}"}})
                elif body.get("stream"):
                    self._stream(body, upstream._completion(body, number))
                else:
                    self._json(200, upstream._completion(body, number))

            def _headers(self) -> dict[str, str]:
                return {k.lower(): v for k, v in self.headers.items()}

            def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _stream(self, body: dict[str, Any], completion: dict[str, Any]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                chunks = list(_chunks(completion))
                if (body.get("stream_options") or {}).get("include_usage"):
                    usage = {**chunks[0], "choices": [], "usage": completion["usage"]}
                    chunks.append(usage)
                try:
                    for sent, chunk in enumerate(chunks):
                        if sent == upstream.hold_after:
                            upstream.release.wait(timeout=30)
                        self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                        self.wfile.flush()
                        time.sleep(upstream.chunk_delay)
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except OSError:
                    pass  # the server's client went away

        return Handler


def _last_text(messages: list[Any]) -> str:
    content = messages[-1].get("content") if messages else ""
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content)


def _chunks(completion: dict[str, Any]) -> list[dict[str, Any]]:
    """The completion as the chunks OpenAI streams: role, words, tool calls, finish."""
    head = {k: completion[k] for k in ("id", "created", "model", "system_fingerprint")}
    head["object"] = "chat.completion.chunk"
    choice = completion["choices"][0]
    message = choice["message"]

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        part = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {**head, "choices": [part]}

    out = [chunk({"role": "assistant", "content": ""})]
    for word in (message["content"] or "").split(" "):
        if word:
            out.append(chunk({"content": word + " "}))
    for position, call in enumerate(message.get("tool_calls") or []):
        first = {**call, "index": position, "function": {**call["function"], "arguments": ""}}
        out.append(chunk({"tool_calls": [first]}))
        arguments = call["function"]["arguments"]
        for start in range(0, len(arguments), 8):
            piece = {"index": position, "function": {"arguments": arguments[start : start + 8]}}
            out.append(chunk({"tool_calls": [piece]}))
    out.append(chunk({}, choice["finish_reason"]))
    return out


def main(argv: list[str] | None = None) -> int:
    """Serve in this process: print the URL, answer until a line (or EOF) comes on stdin, then
    print the number of chat completion calls answered (a load test's upstream apart from its
    clients, so neither slows the other)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description="A fake OpenAI-compatible upstream.")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    args = parser.parse_args(argv)
    upstream = FakeUpstream(latency=args.latency)
    print(upstream.url, flush=True)
    sys.stdin.readline()
    print(len(upstream.chat_calls()), flush=True)
    upstream.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
