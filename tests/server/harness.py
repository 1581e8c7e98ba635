"""The server under test: the real application under uvicorn on 127.0.0.1, in a thread."""

from __future__ import annotations

import threading
import time
from typing import Any

import openai
import uvicorn

from binary_semantic_cache.embeddings import Embedder
from binary_semantic_cache.server.app import ServerConfig, create_app
from tests.redis.server import free_port


class RunningServer:
    """Serves ``config`` until :meth:`stop`; ``client(key)`` is an OpenAI SDK client on it."""

    def __init__(self, config: ServerConfig, embedder: Embedder) -> None:
        self.port = free_port()
        self.app = create_app(config, embedder)
        self._server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            assert self._thread.is_alive(), "the server stopped while starting"
            assert time.monotonic() < deadline, "the server did not start in 30 s"
            time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, key: str, **options: Any) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=f"{self.url}/v1",
            api_key=key,
            max_retries=options.pop("max_retries", 0),
            **options,
        )

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
