"""The same requests through each front door give the same stats: one engine counts them."""

from __future__ import annotations

import dataclasses

from binary_semantic_cache.embeddings import DefaultEmbedder
from binary_semantic_cache.stats import ModelPrice
from tests.front_doors.conftest import ANSWER, INPUT_TOKENS, MODEL, OUTPUT_TOKENS, FrontDoor

PRICE = ModelPrice(input_per_million=3.0, output_per_million=15.0)
REQUESTS = (
    "How do I reset my password?",  # miss, stored
    "How do I reset my password?",  # exact hit
    "How can I reset my password?",  # semantic hit
    "Best laptops under $500 in 2023",  # miss, stored
    "Best laptops under $500 in 2024",  # refused by the dates guard: a miss, stored
    "What is the boiling point of water at sea level?",  # miss, stored
)


def run(name: str, embedder: DefaultEmbedder) -> FrontDoor:
    door = FrontDoor(name, embedder, prices={MODEL: PRICE})
    for question in REQUESTS:
        assert door.ask(question) == ANSWER
    return door


def test_both_front_doors_count_the_same(embedder: DefaultEmbedder) -> None:
    doors = [run("langchain", embedder), run("llamaindex", embedder)]
    try:
        langchain, llamaindex = (door.stats() for door in doors)
        counters = {f.name for f in dataclasses.fields(langchain)} - {"latency"}
        for name in sorted(counters):
            assert getattr(langchain, name) == getattr(llamaindex, name), name
        assert {s: h.count for s, h in langchain.latency.items()} == {
            s: h.count for s, h in llamaindex.latency.items()
        }
        expected = {
            "lookups": 6,
            "hits": 2,
            "exact_hits": 1,
            "semantic_hits": 1,
            "misses": 4,
            "guard_refusals": 1,
            "writes": 4,
            "errors": 0,
            "input_tokens_saved": 2 * INPUT_TOKENS,
            "output_tokens_saved": 2 * OUTPUT_TOKENS,
            "priced_hits": 2,
        }
        assert {k: getattr(langchain, k) for k in expected} == expected
        assert langchain.refusals == {"guard:dates": 1}
        assert langchain.cost_saved == 2 * PRICE.cost(INPUT_TOKENS, OUTPUT_TOKENS)
        # Embedded: the four lookups past the exact tier in a known context, and four writes.
        assert langchain.latency["embed"].count == 8
        assert langchain.latency["search"].count == 4
        assert langchain.as_dict()["model_calls_saved"] == 2
    finally:
        for door in doors:
            door.close()
