"""The entities check: the names each text has that the other lacks."""

from __future__ import annotations

import re
from functools import lru_cache

from binary_semantic_cache.guards._text import STRIP, norm, words

__all__ = ["missing_names"]

_ACRONYM = re.compile(r"[A-Z][A-Z0-9&]+s?|[A-Z](?:\.[A-Z])+")
_SENTENCE_END = tuple(".!?:;")
_OPENERS = tuple("\"\u201c\u2018'(")
_ROOT_SUFFIXES = frozenset(
    ["", "s", "es", "n", "ns", "an", "ans", "ian", "ians", "ese", "ish", "i"]
)
_ALIASES = {"usa": "us", "america": "us", "american": "us", "uk": "britain", "british": "britain"}
# Capitalised words that are not names: pronouns and the words a question starts with.
_QUESTION_WORDS = (
    "i i'm i've i'd i'll what how why who whom whose when where which is are was were do does did "
    "can could should would will shall may might must has have had the a an if in on of for and "
    "or but to my your his her our their its this that these those there it he she we they you "
    "please ok okay"
)
_NOT_NAMES = frozenset(_QUESTION_WORDS.split())


@lru_cache(maxsize=4096)
def _names(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """The names in ``text``, and its words with and without a plural s (both normalised)."""
    capitals = []  # (word, starts a sentence)
    starts = True
    for raw in text.split():
        if raw[0].isupper() or raw.startswith(_OPENERS):
            token = raw.strip(STRIP).rstrip(".")
            if token and token[0].isupper() and token.lower() not in _NOT_NAMES:
                capitals.append((token, starts or raw.startswith(_OPENERS)))
        starts = raw.endswith(_SENTENCE_END)
    # In Title Case Text capitals say nothing about names (acronyms still do).
    title_case = len(capitals) > max(2, len(text.split()) * 2 // 5)
    names = frozenset(
        norm(t) for t, starts in capitals if not (title_case or starts) or _ACRONYM.fullmatch(t)
    )
    found = words(text)
    found |= {w[:-1] for w in found if w.endswith("s")}
    return names, found | {_ALIASES[w] for w in found & _ALIASES.keys()}


def _one_edit(a: str, b: str) -> bool:
    """Names of five letters or more one typo apart: "hillary" and "hilary"."""
    if min(len(a), len(b)) < 5 or abs(len(a) - len(b)) > 1 or a[0] != b[0]:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def _same_root(a: str, b: str) -> bool:
    """ "india" and "indian", "china" and "chinese", "germany" and "german"."""
    for x, y in ((a, b), (b, a)):
        for stem in (y, y.rstrip("aeiouy")):
            if len(stem) >= 3 and x.startswith(stem) and x[len(stem) :] in _ROOT_SUFFIXES:
                return True
    return False


def missing_names(query: str, stored: str) -> tuple[set[str], set[str]]:
    """Names of each text that the other does not contain, nor a word of the same root."""
    names_q, words_q = _names(query)
    names_s, words_s = _names(stored)

    def absent(names: frozenset[str], words: frozenset[str]) -> set[str]:
        return {
            n
            for n in names
            if n not in words
            and _ALIASES.get(n, n) not in words
            # Both near-matches share the first letter; testing it first skips most words.
            and not any(w[:1] == n[:1] and (_same_root(n, w) or _one_edit(n, w)) for w in words)
        }

    return absent(names_q, words_s), absent(names_s, words_q)
