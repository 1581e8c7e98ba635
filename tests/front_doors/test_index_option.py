"""Each front door takes the core's ``index=`` choices and refuses any other value by name."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.front_doors.conftest import FrontDoor


@pytest.mark.parametrize("index", ["auto", "flat", "mih", "approx"])
def test_every_index_choice_serves_a_paraphrase(
    front_door: Callable[..., FrontDoor], index: str
) -> None:
    door = front_door(index=index)
    first = door.ask("How do I reset my password?")
    assert door.ask("How can I reset my password?") == first
    stats = door.stats()
    assert (stats.semantic_hits, door.behaviour.calls) == (1, 1)
    assert door.cache._engine.core.index == index


def test_an_unknown_index_is_refused(front_door: Callable[..., FrontDoor]) -> None:
    with pytest.raises(ValueError, match="index must be 'auto', 'flat', 'mih' or 'approx'"):
        front_door(index="hnsw")
