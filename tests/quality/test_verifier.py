"""The verification stage: questions that differ only in what is asked are never served, their
paraphrases are, and a custom verifier plugs in.

The pairs below were written for this test (not taken from QQP, nor tuned on one by one): each
"different ask" pair keeps the subject and changes the interrogative or the head asked about.
A pair is served as the cache would serve it with the verifier on: 256-bit similarity at
least VERIFIER_SIMILARITY_THRESHOLD, the default guards pass, score >= DEFAULT_VERIFIER_CUTOFF.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from binary_semantic_cache.calibrate import calibrate_verifier, pair_similarities
from binary_semantic_cache.embeddings import DefaultEmbedder
from binary_semantic_cache.guards import PrecisionGuards
from binary_semantic_cache.verifier import (
    DEFAULT_VERIFIER_CUTOFF,
    VERIFIER_SIMILARITY_THRESHOLD,
    BaseVerifier,
    DefaultVerifier,
    Verifier,
    WrongReports,
    within_bound,
)

DIFFERENT_ASK = [
    ("When was Google founded?", "Who founded Google?"),
    ("Where was Tesla founded?", "When was Tesla founded?"),
    ("Who painted the Mona Lisa?", "When was the Mona Lisa painted?"),
    ("Why did the Roman Empire fall?", "When did the Roman Empire fall?"),
    ("How did Napoleon die?", "Where did Napoleon die?"),
    ("When did the Titanic sink?", "Why did the Titanic sink?"),
    ("Who discovered penicillin?", "How was penicillin discovered?"),
    ("Where is the Great Barrier Reef?", "How big is the Great Barrier Reef?"),
    ("What is the GDP of Japan?", "What is the GDP per capita of Japan?"),
    ("What is the population of Canada?", "What is the population density of Canada?"),
    ("What is the population of Brazil?", "What is the population growth rate of Brazil?"),
    ("What is the unemployment rate in Spain?", "What is the youth unemployment rate in Spain?"),
    ("In which year did World War I begin?", "Why did World War I begin?"),
    ("What time does the Louvre open?", "Where is the Louvre?"),
    ("How much does a Tesla Model 3 cost?", "How long does a Tesla Model 3 last?"),
    ("How long is the Nile river?", "How old is the Nile river?"),
    ("How tall is the Eiffel Tower?", "How old is the Eiffel Tower?"),
    ("Who built the Taj Mahal?", "Why was the Taj Mahal built?"),
    ("When was the Golden Gate Bridge built?", "How was the Golden Gate Bridge built?"),
    ("Who wrote Pride and Prejudice?", "When was Pride and Prejudice written?"),
    ("Where was Albert Einstein born?", "When was Albert Einstein born?"),
    ("What is the boiling point of water?", "What is the freezing point of water?"),
    (
        "What is the average salary of a nurse in Germany?",
        "What is the starting salary of a nurse in Germany?",
    ),
    ("What is the capital of Australia?", "What is the largest city of Australia?"),
    ("Who is the CEO of Microsoft?", "How much does the CEO of Microsoft earn?"),
    ("Why do cats purr?", "How do cats purr?"),
    ("How do vaccines work?", "When were vaccines invented?"),
    ("When did humans land on the Moon?", "How did humans land on the Moon?"),
    ("Where do penguins live?", "How long do penguins live?"),
    ("What is the life expectancy in Japan?", "What is the healthy life expectancy in Japan?"),
    ("What is the minimum wage in France?", "What is the average wage in France?"),
    ("Who invented the light bulb?", "Where was the light bulb invented?"),
    ("When does the Super Bowl start?", "Where is the Super Bowl played?"),
    ("How far is the Moon from Earth?", "How old is the Moon?"),
    ("What is the interest rate in the US?", "What is the inflation rate in the US?"),
    ("Tell me who designed the Sydney Opera House.", "Tell me when the Sydney Opera House opened."),
    ("The Berlin Wall fell when?", "Why did the Berlin Wall fall?"),
    ("In what year was the printing press invented?", "Who invented the printing press?"),
    ("What is the market value of Apple?", "What is the annual revenue of Apple?"),
    ("What is the area of Texas?", "What is the population of Texas?"),
    ("Why did Apple remove the headphone jack?", "When did Apple remove the headphone jack?"),
    ("Who owns the Chicago Bulls?", "Where do the Chicago Bulls play?"),
]

SAME_ASK = [
    ("When was Google founded?", "In what year was Google founded?"),
    ("Who founded Google?", "Who were the founders of Google?"),
    ("What is the GDP of Japan?", "What is Japan's GDP?"),
    ("What is the population of Canada?", "How many people live in Canada?"),
    ("Who painted the Mona Lisa?", "Who was the painter of the Mona Lisa?"),
    ("Why did the Roman Empire fall?", "What caused the fall of the Roman Empire?"),
    ("Where was Albert Einstein born?", "In which town was Albert Einstein born?"),
    ("How tall is the Eiffel Tower?", "What is the height of the Eiffel Tower?"),
    ("How many moons does Jupiter have?", "What is the number of moons of Jupiter?"),
    ("How do vaccines work?", "How does a vaccine work?"),
    ("What time does the Louvre open?", "When does the Louvre open?"),
    ("What is the boiling point of water?", "At what temperature does water boil?"),
    ("How do I reset my router?", "How can I reset my router?"),
    ("Where do penguins live?", "Where in the world do penguins live?"),
    ("Who wrote Pride and Prejudice?", "Who is the author of Pride and Prejudice?"),
    ("How long is the Nile river?", "What is the length of the Nile river?"),
    ("Why is the sky blue?", "What makes the sky blue?"),
    ("How much does a Tesla Model 3 cost?", "What is the price of a Tesla Model 3?"),
    ("When did humans first land on the Moon?", "When was the first Moon landing?"),
    ("What is the capital of Australia?", "What is the capital city of Australia?"),
    ("How can I improve my English speaking skills?", "How do I improve my spoken English?"),
    ("How do I lose weight fast?", "What is the fastest way to lose weight?"),
    ("What is the best way to learn Python?", "How should I learn Python?"),
    ("Who is the CEO of Microsoft?", "Who is Microsoft's CEO?"),
    ("How many calories are in an apple?", "How many calories does an apple have?"),
    ("Why do cats purr?", "What is the reason cats purr?"),
    ("Where is the Great Barrier Reef located?", "Where can I find the Great Barrier Reef?"),
    ("How old is the universe?", "What is the age of the universe?"),
    ("How far is the Moon from Earth?", "What is the distance between the Earth and the Moon?"),
    ("What is the unemployment rate in Spain?", "What's Spain's unemployment rate?"),
    ("When did World War I begin?", "When did World War I start?"),
    ("Who discovered penicillin?", "Who was the discoverer of penicillin?"),
    ("Where did Napoleon die?", "Where did Napoleon pass away?"),
    ("How does a refrigerator work?", "How do refrigerators work?"),
    ("What is the interest rate in the US?", "What is the current US interest rate?"),
    ("What time does the sun rise in Oslo in June?", "When does the sun come up in Oslo in June?"),
    ("Why did Apple remove the headphone jack?", "Why did Apple get rid of the headphone jack?"),
    ("How can I stop snoring?", "What can I do to stop snoring?"),
    ("How much water should I drink a day?", "How much water should a person drink each day?"),
    ("Which is the largest ocean on Earth?", "What is the biggest ocean on Earth?"),
    ("How do I cook rice in a microwave?", "How can I cook rice in the microwave?"),
    ("Who owns the Chicago Bulls?", "Who is the owner of the Chicago Bulls?"),
]


@pytest.fixture(scope="module")
def verifier() -> DefaultVerifier:
    return DefaultVerifier()


def served(pairs: list[tuple[str, str]], verifier: Verifier) -> list[bool]:
    embedder = DefaultEmbedder()
    sims = pair_similarities(
        embedder.embed([s for s, _ in pairs]), embedder.embed([q for _, q in pairs])
    )
    guards = PrecisionGuards()
    return [
        bool(sim >= VERIFIER_SIMILARITY_THRESHOLD)
        and guards.check(q, s) is None
        and verifier.score(s, q) >= DEFAULT_VERIFIER_CUTOFF
        for (s, q), sim in zip(pairs, sims, strict=True)
    ]


def test_the_sets_are_large_enough_and_distinct() -> None:
    assert len(DIFFERENT_ASK) >= 40 and len(SAME_ASK) >= 40
    assert len(set(DIFFERENT_ASK) | set(SAME_ASK)) == len(DIFFERENT_ASK) + len(SAME_ASK)


def test_no_question_with_a_different_ask_is_served(verifier: DefaultVerifier) -> None:
    wrongly = [
        p for p, ok in zip(DIFFERENT_ASK, served(DIFFERENT_ASK, verifier), strict=True) if ok
    ]
    assert wrongly == []


def test_paraphrases_are_served(verifier: DefaultVerifier) -> None:
    decisions = served(SAME_ASK, verifier)
    refused = [p for p, ok in zip(SAME_ASK, decisions, strict=True) if not ok]
    assert sum(decisions) >= 0.9 * len(SAME_ASK), refused


def test_scores_are_probabilities_and_cached(verifier: DefaultVerifier) -> None:
    low = verifier.score("When was Google founded?", "Who founded Google?")
    high = verifier.score("When was Google founded?", "In what year was Google founded?")
    assert 0.0 <= low < high <= 1.0
    assert verifier.score("When was Google founded?", "Who founded Google?") == low
    assert asyncio.run(verifier.ascore("When was Google founded?", "Who founded Google?")) == low


class RefuseAll(BaseVerifier):
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def score(self, stored_question: str, new_question: str) -> float:
        self.calls.append((stored_question, new_question))
        return 0.0


def test_a_custom_verifier_plugs_in() -> None:
    custom = RefuseAll()
    assert isinstance(custom, Verifier)
    assert served(SAME_ASK[:5], custom) == [False] * 5
    assert asyncio.run(custom.ascore("a?", "b?")) == 0.0
    assert ("a?", "b?") in custom.calls


def test_the_bound_serves_only_what_is_likely_right() -> None:
    assert within_bound(0.99, 0.02) and within_bound(0.98, 0.02)
    assert not within_bound(0.97, 0.02)
    assert within_bound(0.97, 0.05)


def test_a_wrong_report_tightens_the_bound_near_it_only() -> None:
    reports = WrongReports(radius=0.9, factor=0.5)
    rng = np.random.default_rng(0)
    reported, far = rng.standard_normal((2, 384))
    near = reported + 0.05 * rng.standard_normal(384)
    assert reports.max_wrong_rate(near, 0.04) == 0.04
    reports.report(reported)
    assert reports.max_wrong_rate(near, 0.04) == pytest.approx(0.02)
    assert reports.max_wrong_rate(far, 0.04) == 0.04
    reports.report(near)
    assert reports.max_wrong_rate(near, 0.04) == pytest.approx(0.01)
    assert len(reports) == 2


def test_calibrate_verifier_refits_on_the_users_pairs(verifier: DefaultVerifier) -> None:
    labelled = [(s, q, True) for s, q in SAME_ASK] + [(s, q, False) for s, q in DIFFERENT_ASK]
    model = calibrate_verifier(labelled, verifier)
    assert model.provenance["fitted_on"] == "calibrate_verifier"
    fitted = DefaultVerifier(model)
    same = np.mean([fitted.score(s, q) for s, q in SAME_ASK])
    different = np.mean([fitted.score(s, q) for s, q in DIFFERENT_ASK])
    assert same > 0.8 > 0.2 > different
    with pytest.raises(ValueError, match="both kinds"):
        calibrate_verifier(labelled[:3], verifier)


def test_decisions_are_bounded_and_scored_from_worker_threads() -> None:
    verifier = DefaultVerifier(max_pairs=4, max_questions=6)

    async def all_at_once() -> list[float]:
        return await asyncio.gather(*(verifier.ascore(s, q) for s, q in SAME_ASK[:10]))

    scores = asyncio.run(all_at_once())
    assert scores == [verifier.score(s, q) for s, q in SAME_ASK[:10]]
    assert len(verifier._scores) == 4 and len(verifier._tokens) == 6
