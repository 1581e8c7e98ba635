"""Concurrent async lookups share the embedder's runs (the engine coalesces them), and each
still gets its own answer."""

from __future__ import annotations

import asyncio
import logging

from binary_semantic_cache.request_engine import Hit, Request, RequestEngine, exact_key
from tests.doubles import CountingDefault

TOPICS = ("password", "email address", "billing plan", "profile photo", "username", "language")


def request(question: str) -> Request:
    return Request(exact_key(question), lambda: ("support", question))


def test_concurrent_lookups_share_embedding_runs() -> None:
    embedder = CountingDefault()
    engine: RequestEngine[str] = RequestEngine(
        embedder,
        decode=lambda fields: str(fields["answer"]),
        redis_namespace="t",
        logger=logging.getLogger("t"),
    )
    for topic in TOPICS:
        engine.store(request(f"How do I change my {topic}?"), lambda t=topic: {"answer": t})
    embedder.runs.clear()

    async def ask_all() -> list[Hit[str] | None]:
        questions = [f"How can I change my {topic}?" for topic in TOPICS]
        return await asyncio.gather(*(engine.alookup(request(q)) for q in questions))

    hits = asyncio.run(ask_all())
    assert [None if h is None else h.answer for h in hits] == list(TOPICS)
    assert sum(len(run) for run in embedder.runs) == len(TOPICS)
    assert len(embedder.runs) < len(TOPICS)
