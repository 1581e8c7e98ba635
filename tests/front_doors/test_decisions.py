"""Every decision explained, in each front door: refusals by reason, logged once per pair, and
the verifier plug-in point."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.outputs import Generation

from tests.front_doors.conftest import ANSWER, FrontDoor, langchain_model

STORED = "How do I reset my password?"
PARAPHRASE = "How can I reset my password?"
OTHER_PARAPHRASE = "What's the way to reset my password?"
OTHER_YEARS = tuple(f"Best laptops under $500 in {year}" for year in (2023, 2024, 2025))


class Refuses:
    """A verifier that finds every pair different."""

    def __init__(self) -> None:
        self.pairs: list[tuple[str, str]] = []

    def score(self, stored_question: str, new_question: str) -> float:
        self.pairs.append((stored_question, new_question))
        return 0.0


def test_a_verifier_refusing_everything_leaves_only_exact_hits(
    front_door: Callable[..., FrontDoor],
) -> None:
    verifier = Refuses()
    door = front_door(verifier=verifier)
    door.ask(STORED)
    door.ask(PARAPHRASE)
    door.ask(OTHER_PARAPHRASE)
    door.ask(STORED)
    stats = door.stats()
    assert (stats.semantic_hits, stats.exact_hits) == (0, 1)
    assert stats.refusals == {"verifier": 2}
    assert verifier.pairs[0] == (STORED, PARAPHRASE)
    assert stats.latency["verify"].count == 2


def test_a_verdict_is_remembered_and_its_refusal_logged_once(
    embedder: object, caplog: pytest.LogCaptureFixture
) -> None:
    verifier = Refuses()
    door = FrontDoor("langchain", embedder, verifier=verifier)  # type: ignore[arg-type]
    cache = door.cache
    cache.update(STORED, "llm", [Generation(text=ANSWER)])
    with caplog.at_level(logging.INFO):
        # Two lookups with no write between them (say, the model call failed).
        assert cache.lookup(PARAPHRASE, "llm") is None
        assert cache.lookup(PARAPHRASE, "llm") is None
    assert verifier.pairs == [(STORED, PARAPHRASE)]
    assert door.stats().refusals == {"verifier": 2}
    lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(lines) == 1 and "verifier score 0.000 below 0.500" in lines[0]
    door.close()


def test_a_verifier_accepting_serves_and_says_its_score(embedder: object) -> None:
    class Accepts:
        def score(self, stored_question: str, new_question: str) -> float:
            return 0.75

    door = FrontDoor("langchain", embedder, verifier=Accepts())  # type: ignore[arg-type]
    model = langchain_model(door.cache)
    model.invoke([HumanMessage(STORED)])
    hit = model.invoke([HumanMessage(PARAPHRASE)])
    assert hit.response_metadata["cache_tier"] == "semantic"
    assert hit.response_metadata["cache_verifier_score"] == 0.75
    door.close()


def test_the_async_path_awaits_the_verifier_s_ascore(embedder: object) -> None:
    class AsyncRefuses:
        def __init__(self) -> None:
            self.awaited = 0

        def score(self, stored_question: str, new_question: str) -> float:
            raise AssertionError("the async path must await ascore")

        async def ascore(self, stored_question: str, new_question: str) -> float:
            self.awaited += 1
            return 0.1

    verifier = AsyncRefuses()
    door = FrontDoor("langchain", embedder, verifier=verifier)  # type: ignore[arg-type]
    model = langchain_model(door.cache)

    async def ask_twice() -> None:
        await model.ainvoke([HumanMessage(STORED)])
        await model.ainvoke([HumanMessage(PARAPHRASE)])

    asyncio.run(ask_twice())
    assert verifier.awaited == 1
    assert door.stats().refusals == {"verifier": 1}
    door.close()


def test_a_verifier_without_score_is_refused_clearly(front_door: Callable[..., FrontDoor]) -> None:
    with pytest.raises(TypeError, match="verifier must have score"):
        front_door(verifier=object())


def test_a_refusal_is_counted_by_reason_and_logged_with_both_questions(
    front_door: Callable[..., FrontDoor], caplog: pytest.LogCaptureFixture
) -> None:
    door = front_door()
    stored, asked, third = OTHER_YEARS
    door.ask(stored)
    with caplog.at_level(logging.INFO):
        assert door.ask(asked) == ANSWER
        door.ask(third)  # nearest to one of the two before it, and refused again: a new pair
    lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(lines) == 2, lines
    assert "guard:dates" in lines[0] and stored in lines[0] and asked in lines[0]
    assert "{2024} vs {2023}" in lines[0]
    stats = door.stats()
    assert stats.refusals == {"guard:dates": 2}
    assert stats.guard_refusals == 2 and stats.misses == 3
