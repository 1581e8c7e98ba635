"""A burst of one new question makes one model call, in each front door, threads and asyncio."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from langchain_core.messages import HumanMessage

from binary_semantic_cache.embeddings import DefaultEmbedder
from tests.front_doors.conftest import ANSWER, Behaviour, FrontDoor

QUESTION = "What is the warranty on the Acme kettle?"
BURST = 50


def test_fifty_tasks_make_one_model_call(front_door: Callable[..., FrontDoor]) -> None:
    door = front_door(Behaviour(delay=0.3))

    async def burst() -> list[str]:
        return await asyncio.gather(*(door.aask(QUESTION) for _ in range(BURST)))

    assert asyncio.run(burst()) == [ANSWER] * BURST
    stats = door.stats()
    assert door.behaviour.calls == 1
    assert (stats.hits, stats.waits, stats.writes) == (BURST - 1, BURST - 1, 1)


def test_fifty_threads_make_one_model_call(front_door: Callable[..., FrontDoor]) -> None:
    door = front_door(Behaviour(delay=0.3))
    with ThreadPoolExecutor(BURST) as pool:
        answers = list(pool.map(door.ask, [QUESTION] * BURST))
    assert answers == [ANSWER] * BURST
    assert door.behaviour.calls == 1
    assert door.stats().hits == BURST - 1


def test_a_batch_of_copies_makes_one_call(embedder: DefaultEmbedder) -> None:
    door = FrontDoor("langchain", embedder, Behaviour(delay=0.2))
    copies = [[HumanMessage(QUESTION)]] * 20
    assert [m.content for m in door.model.batch(copies)] == [ANSWER] * 20
    assert door.behaviour.calls == 1

    async def abatch() -> list[str]:
        other = [[HumanMessage("How long does delivery to Europe take?")]] * 20
        return [str(m.content) for m in await door.model.abatch(other)]

    assert asyncio.run(abatch()) == [ANSWER] * 20
    assert door.behaviour.calls == 2
    door.close()


def test_a_failing_first_caller_sends_the_others_to_the_model(
    front_door: Callable[..., FrontDoor],
) -> None:
    door = front_door(Behaviour(delay=0.3, failures=1))

    async def burst() -> list[str | BaseException]:
        return await asyncio.gather(
            *(door.aask(QUESTION) for _ in range(10)), return_exceptions=True
        )

    results = asyncio.run(burst())
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1 and isinstance(errors[0], ConnectionError)
    assert results.count(ANSWER) == 9  # nobody was handed the leader's error
    # The waiters woke at the failure, not at the wait's bound (30 s): they called the model.
    assert 2 <= door.behaviour.calls <= 10


def test_a_waiter_gives_up_after_the_bound(front_door: Callable[..., FrontDoor]) -> None:
    door = front_door(Behaviour(delay=1.0), single_flight_timeout=0.2)

    async def two() -> list[str]:
        return await asyncio.gather(door.aask(QUESTION), door.aask(QUESTION))

    assert asyncio.run(two()) == [ANSWER, ANSWER]
    assert door.behaviour.calls == 2  # the second stopped waiting and called the model


def test_single_flight_can_be_switched_off(front_door: Callable[..., FrontDoor]) -> None:
    door = front_door(Behaviour(delay=0.2), single_flight_timeout=0)

    async def burst() -> list[str]:
        return await asyncio.gather(*(door.aask(QUESTION) for _ in range(5)))

    asyncio.run(burst())
    assert door.behaviour.calls == 5
