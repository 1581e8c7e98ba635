"""A real embeddings HTTP server on 127.0.0.1 that tests script answer by answer."""

from __future__ import annotations

import json
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np


def server_vector(text: str, dim: int) -> np.ndarray:
    """The (unnormalised) vector the test server returns for ``text``."""
    return np.random.default_rng(zlib.crc32(text.encode())).standard_normal(dim)


def server_tokens(text: str) -> int:
    """The token count the test server reports for ``text``: its words."""
    return len(text.split())


@dataclass
class Action:
    """How the server answers one request; the default is a correct answer.

    status/headers/body: answer with this status, headers and JSON body.
    raw: answer 200 with these bytes. delay: sleep first (to provoke client timeouts).
    dim: answer vectors of this size. drop: answer one vector fewer. reverse: answer
    the items in reverse order. no_usage: omit the token usage.
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    raw: bytes | None = None
    delay: float = 0.0
    dim: int | None = None
    drop: bool = False
    reverse: bool = False
    no_usage: bool = False


@dataclass
class Seen:
    path: str
    body: Any
    headers: dict[str, str]


class EmbeddingServer:
    """Speaks ``POST /v1/embeddings`` (OpenAI) and ``POST /api/embed`` (Ollama).

    A request holding a text given to :meth:`when` gets that text's action; others follow
    the queued :class:`Action` s, then correct answers. Every request is recorded in
    ``seen``; ``in_flight`` counts those being answered, ``max_in_flight`` its peak.
    With ``context_words`` set, a correct answer is instead a refusal, as Ollama or OpenAI word
    it, when a text has more words than that (``context_status``: Ollama answers 400 or 500).
    """

    def __init__(self, dim: int = 8) -> None:
        self.dim = dim
        self.context_words: int | None = None
        self.context_status = 400
        self.seen: list[Seen] = []
        self._actions: deque[Action] = deque()
        self._by_text: dict[str, Action] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def then(self, *actions: Action) -> None:
        with self._lock:
            self._actions.extend(actions)

    def when(self, text: str, action: Action) -> None:
        """Answer every request whose input holds ``text`` with ``action``."""
        with self._lock:
            self._by_text[text] = action

    def expected(self, texts: list[str]) -> np.ndarray:
        """The unit vectors a correct client returns for ``texts``."""
        rows = np.array([server_vector(t, self.dim) for t in texts], dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    def batch_sizes(self) -> list[int]:
        return [len(s.body["input"]) for s in self.seen]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _next(self, seen: Seen) -> Action:
        with self._lock:
            self.seen.append(seen)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            texts = seen.body.get("input", []) if isinstance(seen.body, dict) else []
            for text in texts if isinstance(texts, list) else [texts]:
                if text in self._by_text:
                    return self._by_text[text]
            return self._actions.popleft() if self._actions else Action()

    def _done(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _answer(self, path: str, body: Any, action: Action) -> tuple[int, dict[str, str], bytes]:
        if action.raw is not None:
            return 200, {"Content-Type": "application/json"}, action.raw
        if action.status != 200 or action.body is not None:
            payload = action.body if action.body is not None else {"error": {"message": "no"}}
            return action.status, action.headers, json.dumps(payload).encode()
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        if self.context_words is not None and any(
            server_tokens(t) > self.context_words for t in texts
        ):
            return self.context_status, {}, self._refusal(path, texts)
        dim = action.dim or self.dim
        vectors = [server_vector(t, dim).tolist() for t in texts]
        if action.drop:
            vectors = vectors[:-1]
        tokens = sum(server_tokens(t) for t in texts)
        payload: dict[str, Any]
        if path == "/api/embed":
            payload = {"model": body["model"], "embeddings": vectors}
            if not action.no_usage:
                payload["prompt_eval_count"] = tokens
        else:
            items = [
                {"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)
            ]
            if action.reverse:
                items.reverse()
            payload = {"object": "list", "data": items, "model": body["model"]}
            if not action.no_usage:
                payload["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
        headers = {"Content-Type": "application/json", **action.headers}
        return 200, headers, json.dumps(payload).encode()

    def _refusal(self, path: str, texts: list[str]) -> bytes:
        if path == "/api/embed":
            return json.dumps({"error": "the input length exceeds the context length"}).encode()
        longest = max(server_tokens(t) for t in texts)
        message = (
            f"This model's maximum context length is {self.context_words} tokens, however you "
            f"requested {longest} tokens. Please reduce your prompt."
        )
        error = {"message": message, "type": "invalid_request_error", "code": None}
        return json.dumps({"error": error}).encode()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                seen = Seen(self.path, body, {k.lower(): v for k, v in self.headers.items()})
                action = server._next(seen)
                try:
                    self._reply(action, body)
                finally:
                    server._done()

            def _reply(self, action: Action, body: Any) -> None:
                if self.path not in ("/v1/embeddings", "/api/embed"):
                    action = Action(status=404, body={"error": f"no route {self.path}"})
                if action.delay:
                    time.sleep(action.delay)
                status, headers, payload = server._answer(self.path, body, action)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (timeout test)

        return Handler
