"""Feedback and the error-bounded mode, in each front door: ``report_wrong`` takes a hit's
metadata back, and ``max_wrong_rate`` serves only what the verifier's calibrated score allows."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.front_doors.conftest import FrontDoor

STORED = "How do I reset my password?"
PARAPHRASE = "How can I reset my password?"
OTHER_PARAPHRASE = "What's the way to reset my password?"


class Scores:
    """A verifier that gives every pair the same calibrated chance of being right."""

    def __init__(self, probability: float) -> None:
        self.probability = probability

    def score(self, stored_question: str, new_question: str) -> float:
        return self.probability


def test_a_reported_hit_is_gone_and_its_paraphrases_miss(
    front_door: Callable[..., FrontDoor],
) -> None:
    door = front_door()
    door.ask(STORED)
    served = door.ask_for_metadata(PARAPHRASE)
    assert served["cache_tier"] == "semantic"
    assert door.cache.report_wrong(served) is True
    calls = door.behaviour.calls
    door.ask(OTHER_PARAPHRASE)
    door.ask(STORED)  # the entry itself is gone too, so this repeat is asked again
    assert door.behaviour.calls == calls + 2
    stats = door.stats()
    assert stats.reported_wrong == 1
    assert stats.semantic_hits == 1


def test_a_reported_exact_hit_is_forgotten_by_the_exact_tier(
    front_door: Callable[..., FrontDoor],
) -> None:
    door = front_door()
    door.ask(STORED)
    repeat = door.ask_for_metadata(STORED)
    assert repeat["cache_tier"] == "exact"
    assert door.cache.report_wrong(repeat) is True
    assert "cache_hit" not in door.ask_for_metadata(STORED)
    assert door.behaviour.calls == 2
    # Reported twice (say, by two users): the second finds nothing left to delete.
    assert door.cache.report_wrong(repeat) is False


def test_metadata_that_is_not_a_hit_s_is_refused_and_nothing_is_lost(
    front_door: Callable[..., FrontDoor],
) -> None:
    door = front_door()
    missed = door.ask_for_metadata(STORED)
    with pytest.raises(ValueError, match="int cache_entry"):
        door.cache.report_wrong(missed)
    with pytest.raises(ValueError, match=re.escape("got {'cache_entry': '7'}")):
        door.cache.report_wrong({"cache_entry": "7"})
    with pytest.raises(ValueError, match="int cache_entry"):
        door.cache.report_wrong({"cache_entry": True})
    assert door.ask_for_metadata(STORED)["cache_tier"] == "exact"
    assert door.stats().reported_wrong == 0


def test_without_a_verifier_a_report_raises_the_similarity_bar_nearby(
    front_door: Callable[..., FrontDoor],
) -> None:
    door = front_door()
    door.ask(STORED)
    door.cache.report_wrong(door.ask_for_metadata(PARAPHRASE))
    door.ask(PARAPHRASE)  # stored afresh, as the model answers it now
    # Near the reported question, the paraphrase that hit before is refused.
    assert "cache_hit" not in door.ask_for_metadata(OTHER_PARAPHRASE)
    assert door.stats().refusals == {"reported": 1}


@pytest.mark.parametrize(("delta", "served"), [(0.05, True), (0.02, False)])
def test_the_bound_serves_a_hit_only_when_its_chance_of_being_wrong_meets_delta(
    front_door: Callable[..., FrontDoor], delta: float, served: bool
) -> None:
    door = front_door(verifier=Scores(0.97), max_wrong_rate=delta)
    door.ask(STORED)
    metadata = door.ask_for_metadata(PARAPHRASE)
    assert metadata.get("cache_tier") == ("semantic" if served else None)
    stats = door.stats()
    assert stats.refusals == ({} if served else {"bound": 1})
    if served:
        assert metadata["cache_verifier_score"] == 0.97


def test_a_report_tightens_the_bound_around_its_question(
    front_door: Callable[..., FrontDoor],
) -> None:
    door = front_door(verifier=Scores(0.97), max_wrong_rate=0.05)
    door.ask(STORED)
    door.cache.report_wrong(door.ask_for_metadata(PARAPHRASE))
    door.ask(PARAPHRASE)
    # 0.97 met δ = 0.05 before; one report nearby makes it 0.0125 there.
    assert "cache_hit" not in door.ask_for_metadata(OTHER_PARAPHRASE)
    assert door.stats().refusals == {"bound": 1}


@pytest.mark.parametrize("rate", [0, 1, 1.5, -0.02, True, "0.02"])
def test_a_bound_outside_zero_to_one_is_refused(
    front_door: Callable[..., FrontDoor], rate: object
) -> None:
    with pytest.raises(ValueError, match=r"max_wrong_rate must be a number in \(0, 1\)"):
        front_door(verifier=Scores(0.97), max_wrong_rate=rate)
