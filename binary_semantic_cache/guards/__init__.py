"""Precision guards: refuse a semantic hit when two questions differ in what changes the answer.

Two prompts can be close in embedding space and still want different answers: "flights to Paris
in 2023" and "flights to Paris in 2024", "learn Java" and "learn Python", "is X safe" and "is X not
safe". Before a semantic (non-exact) hit is served, :class:`PrecisionGuards` compares the new
question with the stored one and names the first difference it finds, or returns ``None``.

The checks are cheap string and regular-expression work (tens of microseconds a pair, less when
the stored text was seen recently), not a language model. Each refuses a *replacement*: both texts
carry a value of its kind and the values differ. A value on one side only ("lose weight" vs "lose
weight in 2024") is extra detail and is let through, except for negation, a long shared text's
rest, and code beside other code.

- ``numbers``: digits (``1,000`` is ``1000``) and the number words two to twelve, hundred, ...;
- ``dates``: years, month and weekday names, and relative days ("today", "tomorrow", ...);
- ``units``: the unit or currency of a quantity ("5 km" vs "5 miles", "$20" vs "20 rupees");
- ``negation``: one text negates ("not", "n't", "never", "without", ...) and the other does not
  ("... or not?", "why not", "if not" do not count);
- ``entities``: names the other text lacks (a capitalised word that does not start a sentence, or
  an acronym; without case, plural or nationality endings, so "India" matches "Indian");
- ``contrasts``: one of a set of alternatives replaced by another ("adults" vs "children", "buy"
  vs "sell", "love" vs "hate", "best" vs "worst", "per day" vs "per month", "rows" vs "columns",
  "pros" vs "cons", "install" vs "uninstall", "zoom in" vs "zoom out", a formal or a casual tone,
  bullet points or a tweet, for beginners or for experts);
- ``quotes``: text in quotation marks that the other text does not contain;
- ``code``: identifiers the other text does not contain (``snake_case``, ``camelCase``,
  ``dotted.names``, ``call(x)``, ``--flags``, anything in backticks) and operators written alone
  (``==`` vs ``===``, ``a + b`` vs ``a - b``); when both texts hold code, code on one side only
  is enough ("print(i)" vs "print(i * 2)");
- ``direction``: the same words with their roles swapped ("English to French" vs "French to
  English", "is A better than B" vs "is B better than A", "can a man ask a woman" vs "can a woman
  ask a man"), or two words trading places with all else the same, in any language ("why do
  Poles dislike Russians" vs "why do Russians dislike Poles");
- ``ask``: what is asked (who, when, where, why, how, how many/much, in any position, "in which
  year", "what time") or what it is asked about ("GDP" vs "GDP per capita"; the asks each side
  lacks are already a difference, so this counts additions);
- ``shared_text``: two texts that repeat most of each other word for word (a prompt template, a
  retrieved context) and differ in the rest. Their vectors are mostly the shared text, so their
  similarity says little about the part that differs (the question): such a pair is served only
  when nothing but case and punctuation differs.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from functools import lru_cache

from binary_semantic_cache.guards._ask import asked
from binary_semantic_cache.guards._names import missing_names
from binary_semantic_cache.guards._structure import (
    outside_shared_text,
    replaced_alternatives,
    swapped_roles,
)
from binary_semantic_cache.guards._text import plain
from binary_semantic_cache.guards._values import code, dates, negated, numbers, quotes, units

__all__ = ["ALL_CHECKS", "DEFAULT_CHECKS", "PrecisionGuards"]

ALL_CHECKS: tuple[str, ...] = (
    "quotes",
    "code",
    "dates",
    "units",
    "numbers",
    "negation",
    "entities",
    "contrasts",
    "direction",
    "ask",
    "shared_text",
)
#: The checks on by default: all of them. On QQP at the default threshold each word check's
#: refusals are non-duplicates more often than the pairs just below the threshold are, so each
#: removes more false hits than a stricter threshold would for the same lost hits
#: (benchmarks/quality.py prints the figures). ``shared_text`` guards templated prompts, which
#: QQP lacks; there it refuses 19 of the 7,344 pairs above 0.91.
DEFAULT_CHECKS: tuple[str, ...] = ALL_CHECKS

_EXTRACTORS: dict[str, Callable[[str], frozenset[str]]] = {
    "quotes": quotes,
    "code": code,
    "dates": dates,
    "units": units,
    "numbers": numbers,
    "negation": negated,
}
# Checks that compare the two texts as a pair: what each has that the other lacks.
_PAIR_CHECKS: dict[str, Callable[[str, str], tuple[set[str], set[str]]]] = {
    "entities": missing_names,
    "contrasts": replaced_alternatives,
    "direction": swapped_roles,
    "ask": asked,
    "shared_text": outside_shared_text,
}
_LABELS = {
    "quotes": "quoted text differs",
    "code": "code differs",
    "dates": "dates differ",
    "units": "units differ",
    "numbers": "numbers differ",
    "negation": "negation differs",
    "entities": "named entities differ",
    "contrasts": "alternatives differ",
    "direction": "directions differ",
    "ask": "asks differ",
    "shared_text": "the rest of a long shared text differs",
}
_CONTAINED = frozenset({"quotes", "code"})
# Checks for which a difference on one side only is enough to refuse.
_ADDITION_COUNTS = frozenset({"negation", "ask", "shared_text"})
# ... and those for which it is enough when both texts have values of the kind: two snippets of
# code are different code ("print(i)" and "print(i * 2)"), while a name added in prose is detail.
_ADDITION_COUNTS_IN_KIND = frozenset({"code"})


@lru_cache(maxsize=8192)
def _features(check: str, text: str) -> frozenset[str]:
    return _EXTRACTORS[check](text)


def _written_in(value: str, text: str) -> bool:
    """Whether ``text`` holds ``value``: its words in a row, or an operator's characters anywhere
    ("f(x) = y" and "f(x) =y" hold the same "=")."""
    words = plain(value)
    return words in plain(text) if words.strip() else value in text


def _show(values: set[str]) -> str:
    return "{" + ", ".join(sorted(values)) + "}" if values else "{}"


class PrecisionGuards:
    """Refuses a semantic hit when the two questions differ in what usually changes the answer.

    Args:
        checks: The checks to run, from :data:`ALL_CHECKS` (default :data:`DEFAULT_CHECKS`).

    Example:
        .. code-block:: python

            from binary_semantic_cache.guards import ALL_CHECKS, PrecisionGuards

            guards = PrecisionGuards()
            guards.check("What is the population of India?", "How many people live in India?")
            # None: the hit may be served
            guards.check("Best phones under $200 in 2023", "Best phones under $200 in 2024")
            # 'dates differ: {2023} vs {2024}'
            guards.check("Is it safe?", "Is it not safe?")
            # 'negation differs: {} vs {negated}'
    """

    def __init__(self, checks: Collection[str] = DEFAULT_CHECKS) -> None:
        chosen = set(checks)
        unknown = sorted(chosen - set(ALL_CHECKS))
        if unknown:
            raise ValueError(
                f"unknown precision checks {unknown}; expected some of {list(ALL_CHECKS)}"
            )
        self._checks = tuple(c for c in ALL_CHECKS if c in chosen)

    def __repr__(self) -> str:
        return f"PrecisionGuards(checks={list(self._checks)})"

    @property
    def checks(self) -> tuple[str, ...]:
        """The checks that run, in the order they run."""
        return self._checks

    def check(self, query: str, stored: str) -> str | None:
        """``None`` if ``stored``'s answer may serve ``query``, else why not.

        The reason names the first check that failed and the values on each side (the query's
        first), for logs and stats.
        """
        refusal = self.refusal(query, stored)
        return None if refusal is None else refusal[1]

    def refusal(self, query: str, stored: str) -> tuple[str, str] | None:
        """``None`` if ``stored``'s answer may serve ``query``, else (the check's name, why)."""
        for name in self._checks:
            pair_check = _PAIR_CHECKS.get(name)
            both_have_some = False
            if pair_check is not None:
                only_query, only_stored = pair_check(query, stored)
            else:
                mine, theirs = _features(name, query), _features(name, stored)
                only_query, only_stored = set(mine - theirs), set(theirs - mine)
                both_have_some = bool(mine and theirs)
            if name in _CONTAINED:
                # Quoted text or an identifier written plainly in the other text is no change.
                only_query = {v for v in only_query if not _written_in(v, stored)}
                only_stored = {v for v in only_stored if not _written_in(v, query)}
            if name in _ADDITION_COUNTS or (both_have_some and name in _ADDITION_COUNTS_IN_KIND):
                refuse = bool(only_query or only_stored)
            else:
                # Something replaced, not something added: "2023" vs "2024", "Java" vs "Python".
                refuse = bool(only_query and only_stored)
            if refuse:
                return name, f"{_LABELS[name]}: {_show(only_query)} vs {_show(only_stored)}"
        return None
