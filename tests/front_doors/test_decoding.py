"""The engine decodes a stored payload once, however often it is served (the adapter's decode
is the costliest step of a semantic hit), and still refuses a payload it cannot read."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from binary_semantic_cache.embeddings import DefaultEmbedder
from binary_semantic_cache.request_engine import Request, RequestEngine, exact_key

STORED = "How do I reset my password?"
PARAPHRASES = ("How can I reset my password?", "How could I reset my password?")


def request(question: str) -> Request:
    return Request(exact_key(question), lambda: ("support", question))


def test_a_stored_answer_is_decoded_once_for_all_its_hits(embedder: DefaultEmbedder) -> None:
    decoded: list[Mapping[str, Any]] = []

    def decode(fields: Mapping[str, Any]) -> str:
        decoded.append(fields)
        return str(fields["answer"])

    engine: RequestEngine[str] = RequestEngine(
        embedder, decode=decode, redis_namespace="t", logger=logging.getLogger("t")
    )
    engine.store(request(STORED), lambda: {"answer": "Use the reset link."})
    hits = [engine.lookup(request(q)) for q in PARAPHRASES * 3]
    assert [None if h is None else (h.tier, h.answer) for h in hits] == [
        ("semantic", "Use the reset link.")
    ] * 6
    assert len(decoded) == 1  # at the write, which proves the payload reads back


def test_a_payload_that_does_not_decode_is_a_miss_every_time(embedder: DefaultEmbedder) -> None:
    def decode(fields: Mapping[str, Any]) -> str:
        answer = fields["answer"]
        if not isinstance(answer, str):
            msg = f"expected a str answer, got {answer!r}"
            raise ValueError(msg)
        return answer

    engine: RequestEngine[str] = RequestEngine(
        embedder, decode=decode, redis_namespace="t", logger=logging.getLogger("t")
    )
    engine.store(request(STORED), lambda: {"answer": 42})  # refused at the write
    assert engine.stats().skipped_writes == 1
    vector = embedder.embed([STORED])[0]
    payload = json.dumps({"v": 1, "q": STORED, "answer": 42})
    engine.core.put(vector, payload, partition="support")
    assert [engine.lookup(request(q)) for q in PARAPHRASES * 2] == [None] * 4
    assert engine.stats().errors == 1 + 4
