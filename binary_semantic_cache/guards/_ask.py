"""The ask check: what each question asks (who / when / how many ...) and what about (its head).

"When was Google founded?" and "Who founded Google?" share every content word; a MiniLM vector
barely tells them apart. Two things are compared:

- the interrogative, in any position ("Google was founded when?", "in which year", "what time",
  "tell me who ..."), as a kind: who, when, where, why, how (manner), quantity (how many / how
  much), ... "What" and "which" alone ask for anything, so they match every kind;
- the head asked about after "what is the": "GDP" vs "GDP per capita", "population" vs
  "population density", with "Japan's GDP" read as "GDP".
"""

from __future__ import annotations

import re
from functools import lru_cache

from binary_semantic_cache.guards._text import word_list
from binary_semantic_cache.guards._values import NUMBER_WORDS

__all__ = ["asked"]

# Longest phrases first: "how many" before "how". Values are the kind of answer wanted.
_PHRASES: tuple[tuple[tuple[str, ...], str], ...] = tuple(
    (tuple(phrase.split()), kind)
    for phrase, kind in (
        ("in which year", "when"),
        ("in what year", "when"),
        ("what year", "when"),
        ("which year", "when"),
        ("what time", "when"),
        ("what date", "when"),
        ("which date", "when"),
        ("what day", "when"),
        ("for what reason", "why"),
        ("what for", "why"),
        ("how come", "why"),
        ("how many", "quantity"),
        ("how much", "quantity"),
        ("how long", "duration"),
        ("how old", "age"),
        ("how far", "distance"),
        ("how often", "frequency"),
        ("what place", "where"),
        ("which place", "where"),
        ("who", "who"),
        ("whom", "who"),
        ("whose", "who"),
        ("when", "when"),
        ("where", "where"),
        ("why", "why"),
        ("how", "how"),
    )
)
_STARTS = {phrase[0] for phrase, _ in _PHRASES}
# A wh-word right after a noun is a relative clause ("the man who founded"), not a question;
# after these words it still asks ("in which year", "tell me who", "I wonder why").
_ASKING_WORDS = (
    "in on at of for from to by with about since until and or but so then me us know tell told "
    "wonder ask asked explain find out learn show understand say guess idea sure decide "
    "determine figure exactly just else is are was were"
)
_ASKING_BEFORE = frozenset(_ASKING_WORDS.split())
# After "what is the": the head runs to the first of these words.
_HEAD_END_WORDS = (
    "of in for on at to from by with about between among that which who when where do does did "
    "is are was were can could should would will"
)
_HEAD_END = frozenset(_HEAD_END_WORDS.split())
_COPULAS = frozenset(["is", "are", "was", "were", "s"])
_DETERMINERS = frozenset(["the", "a", "an"])
# Words that make no difference to what is asked about ("capital" vs "capital city").
_FILLER = frozenset(["city", "actual", "exact", "current", "exactly", "really", "actually"])
_OF = frozenset(["of", "in", "for"])
# Words of opinion or number before a noun: no measure named ("the best ways", "some good tips").
_TASTE_WORDS = "best good some most main major top favorite your my and or many few other"
_TASTE = frozenset(_TASTE_WORDS.split()) | NUMBER_WORDS.keys()
_CLAUSE = re.compile(r"[.?!,;:]")
_OWNER = re.compile(r"\b\w+'s\b")


def _clauses(text: str) -> list[tuple[str, ...]]:
    return [w for part in _CLAUSE.split(text) if (w := word_list(part))]


@lru_cache(maxsize=4096)
def _kinds(text: str) -> frozenset[str]:
    """The kinds of answer ``text`` asks for; empty for "what" alone and for yes/no questions."""
    found: set[str] = set()
    for words in _clauses(text):
        i = 0
        while i < len(words):
            if words[i] in _STARTS or words[i] in {"what", "which", "in"}:
                asks = i == 0 or words[i - 1] in _ASKING_BEFORE
                for phrase, kind in _PHRASES:
                    if words[i : i + len(phrase)] == phrase:
                        # "... signed where?": a wh-word ending its clause asks too.
                        ends = i + len(phrase) == len(words)
                        if asks or ends or phrase[0] in {"in", "what", "which"}:
                            found.add(kind)
                        i += len(phrase) - 1
                        break
            i += 1
    return frozenset(found)


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


@lru_cache(maxsize=4096)
def _head(text: str) -> tuple[str, ...]:
    """The measure a "what is the <head> of <subject>" question asks for ("gdp", "per",
    "capita"), else nothing: only that form names one quantity; in "what are some good tips"
    the words before the noun are taste, and QQP pairs reworded so are mostly duplicates."""
    lowered = text.lower().replace("\u2019", "'")
    # "Japan's GDP" asks about the GDP; the owner is the entities check's business.
    words = word_list(_OWNER.sub(" ", lowered))
    for i, word in enumerate(words[:-1]):
        if word in {"what", "which"} and words[i + 1] in _COPULAS:
            rest = list(words[i + 2 :])
            while rest and rest[0] in _DETERMINERS:
                rest.pop(0)
            end = next((j for j, w in enumerate(rest) if w in _HEAD_END), len(rest))
            head = [_singular(w) for w in rest[:end] if w not in _FILLER]
            if end == len(rest) or rest[end] not in _OF or not 0 < len(head) <= 3:
                return ()
            if any(w in _TASTE or w.endswith("est") or w.isdigit() for w in head):
                return ()
            # "per capita" may come after "of Japan".
            return tuple(head) + tuple(
                w for j, w in enumerate(words[1:]) if words[j] == "per" and w not in head
            )
    return ()


def asked(query: str, stored: str) -> tuple[set[str], set[str]]:
    """The asks each question has that the other lacks: kinds first, else head words.

    Kinds count only when both questions have one and they share none ("when" vs "who"); head
    words count when both questions name a head and one adds words the other lacks, or both
    qualify one head differently, so
    "population" vs "population density" differs while "What is the population of India?" vs
    "How many people live in India?" does not.
    """
    kinds_q, kinds_s = _kinds(query), _kinds(stored)
    if kinds_q and kinds_s and not kinds_q & kinds_s:
        return set(kinds_q), set(kinds_s)
    head_q, head_s = _head(query), _head(stored)
    if head_q and head_s:
        # A head word written anywhere in the other question is no change ("the US interest
        # rate" vs "the interest rate in the US").
        words_q, words_s = _words(query), _words(stored)
        only_q, only_s = set(head_q) - words_s, set(head_s) - words_q
        # A qualifier added to the same head, or replaced ("average salary" vs "starting
        # salary"), changes the ask; a head in other words ("films" vs "movies", "meaning" vs
        # "purpose") is as often a paraphrase: the verifier weighs it.
        same_noun = head_q[-1] == head_s[-1]
        if bool(only_q) != bool(only_s) or (only_q and only_s and same_noun):
            return {f"about {w}" for w in only_q}, {f"about {w}" for w in only_s}
    return set(), set()


@lru_cache(maxsize=4096)
def _words(text: str) -> frozenset[str]:
    return frozenset(_singular(w) for w in word_list(text)) | _FILLER
