"""Precision guards: refuse a semantic hit when two questions differ in what changes the answer.

Two prompts can be close in embedding space and still want different answers: "flights to Paris
in 2023" and "flights to Paris in 2024", "learn Java" and "learn Python", "is X safe" and "is X not
safe". Before a semantic (non-exact) hit is served, :class:`PrecisionGuards` compares the new
question with the stored one and names the first difference it finds, or returns ``None``.

The checks are cheap string and regular-expression work (tens of microseconds a pair, less when
the stored text was seen recently), not a language model. Each refuses a *replacement*: both texts
carry a value of its kind and the values differ. A value on one side only ("lose weight" vs "lose
weight in 2024") is extra detail and is let through, except for negation.

- ``numbers``: digits (``1,000`` is ``1000``) and the number words two to twelve, hundred, ...;
- ``dates``: years, month and weekday names, and relative days ("today", "tomorrow", ...);
- ``units``: the unit or currency of a quantity ("5 km" vs "5 miles", "$20" vs "20 rupees");
- ``negation``: one text negates ("not", "n't", "never", "without", ...) and the other does not
  ("... or not?", "why not", "if not" do not count);
- ``entities``: names the other text lacks (a capitalised word that does not start a sentence, or
  an acronym; without case, plural or nationality endings, so "India" matches "Indian");
- ``contrasts``: one of a set of alternatives replaced by another ("adults" vs "children", "buy"
  vs "sell", "love" vs "hate", "best" vs "worst", "per day" vs "per month", "men" vs "women");
- ``quotes``: text in quotation marks that the other text does not contain;
- ``code``: identifiers the other text does not contain (``snake_case``, ``camelCase``,
  ``dotted.names``, ``call()``, ``--flags``, anything in backticks);
- ``direction``: the same words with their roles swapped ("English to French" vs "French to
  English", "is A better than B" vs "is B better than A");
- ``shared_text``: two texts that repeat most of each other word for word (a prompt template, a
  retrieved context) and differ in the rest. Their vectors are mostly the shared text, so their
  similarity says little about the part that differs (the question): such a pair is served only
  when nothing but case and punctuation differs.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection
from functools import lru_cache

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
    "shared_text",
)
#: The checks on by default: all of them. On QQP at the default threshold each word check's
#: refusals are non-duplicates more often than the pairs just below the threshold are, so each
#: removes more false hits than a stricter threshold would for the same lost hits
#: (benchmarks/quality.py prints the figures). ``shared_text`` guards templated prompts, which
#: QQP lacks; there it refuses 19 of the 7,344 pairs above 0.91.
DEFAULT_CHECKS: tuple[str, ...] = ALL_CHECKS

_NUMBER = re.compile(r"(?<![\w.])(\d+(?:[,\d]*\d)?(?:\.\d+)?)([kK]\b)?")
_SMALL_NUMBERS = "zero one two three four five six seven eight nine ten eleven twelve"
_NUMBER_WORDS = {
    word: str(value)
    for value, word in enumerate(_SMALL_NUMBERS.split())
    if value >= 2  # "one" is a pronoun as often as a number
} | {"hundred": "100", "thousand": "1000", "million": "1000000", "billion": "1000000000"}
_ORDINALS = "first second third fourth fifth sixth seventh eighth ninth tenth"
_NUMBER_WORDS |= {word: str(value) for value, word in enumerate(_ORDINALS.split(), start=1)}
_YEAR = re.compile(r"(?<!\d)(1[5-9]\d\d|20\d\d)(?:s|'s)?(?!\d)")
_MONTHS = "january february march april may june july august september october november december"
_DAYS = "monday tuesday wednesday thursday friday saturday sunday"
_SHORT_MONTHS = "jan feb mar apr jun jul aug sep sept oct nov dec"
_RELATIVE_DAYS = "today tomorrow yesterday tonight weekend"
_DATE_WORDS = {
    **{name: name[:3] for name in (_MONTHS + " " + _DAYS).split() if name != "may"},
    **{word: word for word in (_SHORT_MONTHS + " " + _RELATIVE_DAYS).split()},
}
# unit: the ways of writing it after a number (or, for currency symbols, before one)
_UNIT_SPELLINGS = {
    "km": "km kms kilometer kilometers kilometre kilometres",
    "mi": "mi mile miles",
    "m": "m meter meters metre metres",
    "cm": "cm",
    "mm": "mm",
    "ft": "ft feet foot",
    "in": "inch inches",
    "kg": "kg kgs kilo kilos kilogram kilograms",
    "g": "g gram grams",
    "lb": "lb lbs pound pounds",
    "l": "l liter liters litre litres",
    "ml": "ml",
    "byte": "kb mb gb tb",
    "hz": "mhz ghz",
    "power": "w kw mp v",
    "temperature": "c f celsius fahrenheit degrees",
    "%": "% percent",
    "s": "s second seconds sec secs",
    "min": "min mins minute minutes",
    "h": "h hour hours hr hrs",
    "d": "day days",
    "wk": "week weeks",
    "mo": "month months",
    "yr": "year years yrs",
    "usd": "$ usd dollar dollars",
    "inr": "₹ inr rs rupee rupees",
    "eur": "€ eur euro euros",
    "gbp": "£ gbp",
    "jpy": "¥ yen",
    "lakh": "lakh lakhs",
    "crore": "crore crores",
}
_UNITS = {alias: unit for unit, spellings in _UNIT_SPELLINGS.items() for alias in spellings.split()}
_QUANTITY_AFTER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*\s?(%|[A-Za-z]+)")
_QUANTITY_BEFORE = re.compile(r"([$€£¥₹])\s?\d")
_QUOTED = re.compile(
    r"\"([^\"]+)\"|\u201c([^\u201d]+)\u201d|\u2018([^\u2019]+)\u2019|(?<!\w)'([^']+)'(?!\w)"
)
_BACKTICKS = re.compile(r"`([^`]+)`")
_CODE = re.compile(
    r"--?[a-z][\w-]*"  # --flags
    r"|[A-Za-z_]\w*\(\)"  # call()
    r"|\w*[a-z0-9]_\w+"  # snake_case
    r"|[a-z]+[A-Z]\w*"  # camelCase
    r"|[A-Za-z_]\w+(?:\.[A-Za-z_]\w+)+"  # dotted.names, file.ext
)
# A character every _CODE form (or backticked text) has: - ( _ . ` or a lower-upper pair.
_CODE_HINT = re.compile(r"[-(_.`]|[a-z][A-Z]")
_ACRONYM = re.compile(r"[A-Z][A-Z0-9&]+s?|[A-Z](?:\.[A-Z])+")
_NOT_NEGATING = re.compile(
    r"\b(?:or not|or no|why not|if not|not only|no matter|no doubt)\b", re.IGNORECASE
)
_PLAIN_WORD = re.compile(r"\w+")
_DIGITS = frozenset("0123456789")
_QUOTE_CHARS = frozenset("\"\u201c\u2018'")
_STRIP = "?,!;:()[]{}\"\u201c\u201d\u2018\u2019'*\\"
_SENTENCE_END = tuple(".!?:;")
_OPENERS = tuple("\"\u201c\u2018'(")
_NEGATIONS = (
    "not no never none nobody nothing neither nor without cannot dont doesnt didnt isnt arent "
    "wasnt werent cant wont shouldnt wouldnt couldnt havent hasnt"
)
_NEGATION_WORDS = frozenset(_NEGATIONS.split())
_ROOT_SUFFIXES = frozenset(
    ["", "s", "es", "n", "ns", "an", "ans", "ian", "ians", "ese", "ish", "i"]
)
# Each line is a set of alternatives, "|" between them, each with its spellings: a question
# about one rarely has the answer of the same question about another.
_CONTRAST_SETS = """
best | worst
better | worse
good | bad
easy easier easiest | hard harder hardest difficult
cheap cheaper cheapest inexpensive | expensive costly
fast faster fastest quick quickly | slow slower slowest slowly
high higher highest | low lower lowest
big bigger biggest large larger largest | small smaller smallest
long longer longest | short shorter shortest
hot | cold
safe | dangerous unsafe
legal | illegal
true | false
right | wrong
positive | negative
strong | weak
rich | poor
old | young
old | new
early | late
more | less fewer
most | least
maximum | minimum
increase increasing | decrease decreasing reduce
gain | lose
win | lose
buy buying | sell selling
import | export
before | after
start | stop
add | remove delete
enable | disable
upload | download
encrypt | decrypt
input | output
love | hate
like | dislike
advantages advantage benefits | disadvantages disadvantage drawbacks
accept | reject
agree | disagree
success | failure
above | below
inside | outside
top | bottom
internal | external
public | private
male | female
man men | woman women
boy boys | girl girls
husband | wife
father dad | mother mom mum
son | daughter
brother | sister
boyfriend | girlfriend
adult adults | child children kid kids | baby babies infant infants | teen teens teenager teenagers
morning | afternoon | evening | night
summer | winter | spring | autumn
day days daily | week weeks weekly | month months monthly | year years yearly annual annually
hour hours hourly | minute minutes
north northern | south southern | east eastern | west western
ascending | descending
horizontal | vertical
uppercase | lowercase
client | server
frontend | backend
sync synchronous | async asynchronous
"""


def _contrast_index() -> dict[str, list[tuple[int, str]]]:
    """word -> (set number, the alternative's first spelling), for every set the word is in."""
    index: dict[str, list[tuple[int, str]]] = {}
    for number, line in enumerate(_CONTRAST_SETS.strip().splitlines()):
        for alternative in line.split("|"):
            spellings = alternative.split()
            for spelling in spellings:
                index.setdefault(spelling, []).append((number, spellings[0]))
    return index


_CONTRASTS = _contrast_index()
_ALIASES = {"usa": "us", "america": "us", "american": "us", "uk": "britain", "british": "britain"}
# Capitalised words that are not names: pronouns and the words a question starts with.
_QUESTION_WORDS = (
    "i i'm i've i'd i'll what how why who whom whose when where which is are was were do does did "
    "can could should would will shall may might must has have had the a an if in on of for and "
    "or but to my your his her our their its this that these those there it he she we they you "
    "please ok okay"
)
_NOT_NAMES = frozenset(_QUESTION_WORDS.split())


def _norm(word: str) -> str:
    word = word.replace("\u2019", "'").replace(".", "").lower().removesuffix("'s")
    if not word.isascii():  # "Việt" is "viet"
        word = unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode()
    return word


@lru_cache(maxsize=4096)
def _words(text: str) -> frozenset[str]:
    """Every word of ``text``, lower-cased, without dots ("U.S." is "us") or a final 's."""
    lowered = text.lower().replace("\u2019", "'").replace(".", "")
    if not lowered.isascii():
        lowered = unicodedata.normalize("NFKD", lowered).encode("ascii", "ignore").decode()
    words = {w.strip(_STRIP) for w in lowered.split()}
    if "'s" in lowered:
        words = {w.removesuffix("'s") for w in words}
    words.discard("")
    return frozenset(words)


def _numbers(text: str) -> frozenset[str]:
    found = {_NUMBER_WORDS[w] for w in _words(text) & _NUMBER_WORDS.keys()}
    if not _DIGITS.isdisjoint(text):
        for digits, thousands in _NUMBER.findall(text):
            value = digits.replace(",", "").lstrip("0") or "0"
            found.add(f"{float(value) * 1000:.12g}" if thousands else value)
    return frozenset(found)


def _dates(text: str) -> frozenset[str]:
    found = {_DATE_WORDS[w] for w in _words(text) & _DATE_WORDS.keys()}
    if not _DIGITS.isdisjoint(text):
        found.update(_YEAR.findall(text))
    return frozenset(found)


def _units(text: str) -> frozenset[str]:
    if _DIGITS.isdisjoint(text):
        return frozenset()
    found = {_UNITS[u.lower()] for u in _QUANTITY_AFTER.findall(text) if u.lower() in _UNITS}
    return frozenset(found | {_UNITS[s] for s in _QUANTITY_BEFORE.findall(text)})


def _negated(text: str) -> frozenset[str]:
    words = _words(text)
    negated = not words.isdisjoint(_NEGATION_WORDS) or any(w.endswith("n't") for w in words)
    if negated and _NOT_NEGATING.search(text):  # "... or not?", "why not", "not only"
        words = _words(_NOT_NEGATING.sub(" ", text))
        negated = not words.isdisjoint(_NEGATION_WORDS) or any(w.endswith("n't") for w in words)
    return frozenset({"negated"}) if negated else frozenset()


def _quotes(text: str) -> frozenset[str]:
    if _QUOTE_CHARS.isdisjoint(text):
        return frozenset()
    return frozenset(_plain("".join(g)).strip() for g in _QUOTED.findall(text))


def _code(text: str) -> frozenset[str]:
    if not _CODE_HINT.search(text):  # most prompts: no character an identifier needs
        return frozenset()
    found: set[str] = set()
    if "`" in text:
        found.update(b.lower() for b in _BACKTICKS.findall(text))
        text = _BACKTICKS.sub(" ", text)
    for raw in text.split():
        token = raw.strip("?,!;:\"\u201c\u201d'").rstrip(".")
        plain = token.isalpha() and (token.islower() or token.isupper() or token.istitle())
        if not plain and _CODE.fullmatch(token):
            found.add(token.lower())
    return frozenset(found)


@lru_cache(maxsize=4096)
def _names(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """The names in ``text``, and its words with and without a plural s (both normalised)."""
    capitals = []  # (word, starts a sentence)
    starts = True
    for raw in text.split():
        if raw[0].isupper() or raw.startswith(_OPENERS):
            token = raw.strip(_STRIP).rstrip(".")
            if token and token[0].isupper() and token.lower() not in _NOT_NAMES:
                capitals.append((token, starts or raw.startswith(_OPENERS)))
        starts = raw.endswith(_SENTENCE_END)
    # In Title Case Text capitals say nothing about names (acronyms still do).
    title_case = len(capitals) > max(2, len(text.split()) * 2 // 5)
    names = frozenset(
        _norm(t) for t, starts in capitals if not (title_case or starts) or _ACRONYM.fullmatch(t)
    )
    words = _words(text)
    words |= {w[:-1] for w in words if w.endswith("s")}
    return names, words | {_ALIASES[w] for w in words & _ALIASES.keys()}


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


def _missing_names(query: str, stored: str) -> tuple[set[str], set[str]]:
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


@lru_cache(maxsize=4096)
def _plain(text: str) -> str:
    """Lower-cased words separated by single spaces, padded: ``" what is os path join "``."""
    return f" {' '.join(_PLAIN_WORD.findall(text.lower()))} "


@lru_cache(maxsize=4096)
def _alternatives(text: str) -> frozenset[tuple[int, str]]:
    return frozenset(a for w in _words(text) & _CONTRASTS.keys() for a in _CONTRASTS[w])


def _replaced_alternatives(query: str, stored: str) -> tuple[set[str], set[str]]:
    """The alternatives of each text that the other replaced with another of the same set."""
    mine, theirs = _alternatives(query), _alternatives(stored)
    only_mine, only_theirs = mine - theirs, theirs - mine
    replaced = {n for n, _ in only_mine} & {n for n, _ in only_theirs}
    return (
        {a for n, a in only_mine if n in replaced},
        {a for n, a in only_theirs if n in replaced},
    )


_EXTRACTORS: dict[str, Callable[[str], frozenset[str]]] = {
    "quotes": _quotes,
    "code": _code,
    "dates": _dates,
    "units": _units,
    "numbers": _numbers,
    "negation": _negated,
}
_LABELS = {
    "quotes": "quoted text differs",
    "code": "code identifiers differ",
    "dates": "dates differ",
    "units": "units differ",
    "numbers": "numbers differ",
    "negation": "negation differs",
    "entities": "named entities differ",
    "contrasts": "alternatives differ",
    "direction": "directions differ",
    "shared_text": "the rest of a long shared text differs",
}
_CONTAINED = frozenset({"quotes", "code"})
# Checks for which a difference on one side only is enough to refuse.
_ADDITION_COUNTS = frozenset({"negation", "shared_text"})
# A word is shared when it is part of a run of _SHARED_RUN words that the other text also holds.
# _SHARED_MIN_WORDS shared on each side, and half of each text, make a pair "mostly shared". A RAG
# prompt repeats its template and context in a hundred words or more, and different questions in
# it embed above 0.91; few questions repeat 24 words (19 QQP pairs above 0.91 in 40,362).
_SHARED_RUN = 3
_SHARED_MIN_WORDS = 24


@lru_cache(maxsize=4096)
def _word_list(text: str) -> tuple[str, ...]:
    return tuple(_PLAIN_WORD.findall(text.lower()))


# Words after which comes the target, source or second term of a relation.
_DIRECTION_MARKERS = frozenset({"to", "into", "from", "than", "against"})
_DETERMINERS = frozenset({"a", "an", "the", "my", "your", "his", "her", "our", "their", "its"})


@lru_cache(maxsize=4096)
def _directed(text: str) -> tuple[tuple[str, str, frozenset[str]], ...]:
    """(marker, the word it points at, the words before the marker) for each direction marker."""
    words = _word_list(text)
    found = []
    for i, word in enumerate(words):
        if word in _DIRECTION_MARKERS:
            j = i + 1
            while j < len(words) and words[j] in _DETERMINERS:
                j += 1
            if j < len(words):
                found.append((word, words[j], frozenset(words[:i])))
    return tuple(found)


def _swapped_roles(query: str, stored: str) -> tuple[set[str], set[str]]:
    """The words a marker points at in each text when the two swap places across it: each text
    has before the marker what the other has after it ("A to B" vs "B to A").
    """
    for marker, mine, before_mine in _directed(query):
        for other_marker, theirs, before_theirs in _directed(stored):
            swapped = theirs in before_mine and mine in before_theirs
            if marker == other_marker and mine != theirs and swapped:
                return {f"{marker} {mine}"}, {f"{marker} {theirs}"}
    return set(), set()


@lru_cache(maxsize=4096)
def _runs(text: str) -> frozenset[tuple[str, ...]]:
    """The runs of ``_SHARED_RUN`` words in ``text``."""
    words = _word_list(text)
    return frozenset(words[i : i + _SHARED_RUN] for i in range(len(words) - _SHARED_RUN + 1))


def _unshared(words: tuple[str, ...], theirs: frozenset[tuple[str, ...]]) -> list[str]:
    """The words of ``words`` in no run of ``_SHARED_RUN`` words that ``theirs`` also holds."""
    covered = [False] * len(words)
    for i in range(len(words) - _SHARED_RUN + 1):
        if words[i : i + _SHARED_RUN] in theirs:
            covered[i : i + _SHARED_RUN] = [True] * _SHARED_RUN
    return [word for word, shared in zip(words, covered, strict=True) if not shared]


def _outside_shared_text(query: str, stored: str) -> tuple[set[str], set[str]]:
    """The words of each text outside what the two repeat word for word, when that is most of
    each; two empty sets when it is not (or when only case and punctuation differ).

    Linear in the texts' length: run sets, not an alignment, so long prompts stay cheap.
    """
    one, other = _word_list(query), _word_list(stored)
    if min(len(one), len(other)) < _SHARED_MIN_WORDS or one == other:
        return set(), set()
    only_one, only_other = _unshared(one, _runs(stored)), _unshared(other, _runs(query))
    for words, unshared in ((one, only_one), (other, only_other)):
        shared = len(words) - len(unshared)
        if shared < max(_SHARED_MIN_WORDS, len(words) / 2):
            return set(), set()
    return set(only_one), set(only_other)


@lru_cache(maxsize=8192)
def _features(check: str, text: str) -> frozenset[str]:
    return _EXTRACTORS[check](text)


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
        for name in self._checks:
            if name == "entities":
                only_query, only_stored = _missing_names(query, stored)
            elif name == "contrasts":
                only_query, only_stored = _replaced_alternatives(query, stored)
            elif name == "direction":
                only_query, only_stored = _swapped_roles(query, stored)
            elif name == "shared_text":
                only_query, only_stored = _outside_shared_text(query, stored)
            else:
                mine, theirs = _features(name, query), _features(name, stored)
                only_query, only_stored = set(mine - theirs), set(theirs - mine)
            if name in _CONTAINED:
                # Quoted text or an identifier written plainly in the other text is no change.
                only_query = {v for v in only_query if _plain(v) not in _plain(stored)}
                only_stored = {v for v in only_stored if _plain(v) not in _plain(query)}
            if name in _ADDITION_COUNTS:
                refuse = bool(only_query or only_stored)
            else:
                # Something replaced, not something added: "2023" vs "2024", "Java" vs "Python".
                refuse = bool(only_query and only_stored)
            if refuse:
                return f"{_LABELS[name]}: {_show(only_query)} vs {_show(only_stored)}"
        return None
