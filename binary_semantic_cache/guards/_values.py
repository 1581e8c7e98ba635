"""The value extractors: a text's numbers, dates, units, negation, quoted text and identifiers."""

from __future__ import annotations

import re

from binary_semantic_cache.guards._text import plain, words

__all__ = ["NUMBER_WORDS", "code", "dates", "negated", "numbers", "quotes", "units"]

_NUMBER = re.compile(r"(?<![\w.])(\d+(?:[,\d]*\d)?(?:\.\d+)?)([kK]\b)?")
_SMALL_NUMBERS = "zero one two three four five six seven eight nine ten eleven twelve"
NUMBER_WORDS = {
    word: str(value)
    for value, word in enumerate(_SMALL_NUMBERS.split())
    if value >= 2  # "one" is a pronoun as often as a number
} | {"hundred": "100", "thousand": "1000", "million": "1000000", "billion": "1000000000"}
_ORDINALS = "first second third fourth fifth sixth seventh eighth ninth tenth"
NUMBER_WORDS |= {word: str(value) for value, word in enumerate(_ORDINALS.split(), start=1)}
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
    r"|[A-Za-z_]\w*\([^\s()]*\)"  # call(), call(x)
    r"|\w*[a-z0-9]_\w+"  # snake_case
    r"|[a-z]+[A-Z]\w*"  # camelCase
    r"|[A-Za-z_]\w+(?:\.[A-Za-z_]\w+)+"  # dotted.names, file.ext
)
# An operator written as a word of its own: "==" and "===", "+=" and "-=", "a + b" and "a * b".
# Alone, "&" and "!" are prose more often ("and", an exclamation), and so is "-" (a dash) unless
# it stands between two numbers or one-letter names ("5 - 3", "a - b").
_OPERATOR = re.compile(r"[=<>|+*/%^~]|[=!<>&|+\-*/%^~]{2,}")
_OPERAND = re.compile(r"\d+(?:\.\d+)?|[A-Za-z]")
# A character every _CODE form, operator or backticked text has, or a lower-upper pair.
_CODE_HINT = re.compile(r"[-(_.`=!<>&|+*/%^~]|[a-z][A-Z]")
_NOT_NEGATING = re.compile(
    r"\b(?:or not|or no|why not|if not|not only|no matter|no doubt)\b", re.IGNORECASE
)
_DIGITS = frozenset("0123456789")
_QUOTE_CHARS = frozenset("\"\u201c\u2018'")
_NEGATIONS = (
    "not no never none nobody nothing neither nor without cannot dont doesnt didnt isnt arent "
    "wasnt werent cant wont shouldnt wouldnt couldnt havent hasnt"
)
_NEGATION_WORDS = frozenset(_NEGATIONS.split())


def numbers(text: str) -> frozenset[str]:
    found = {NUMBER_WORDS[w] for w in words(text) & NUMBER_WORDS.keys()}
    if not _DIGITS.isdisjoint(text):
        for digits, thousands in _NUMBER.findall(text):
            value = digits.replace(",", "").lstrip("0") or "0"
            found.add(f"{float(value) * 1000:.12g}" if thousands else value)
    return frozenset(found)


def dates(text: str) -> frozenset[str]:
    found = {_DATE_WORDS[w] for w in words(text) & _DATE_WORDS.keys()}
    if not _DIGITS.isdisjoint(text):
        found.update(_YEAR.findall(text))
    return frozenset(found)


def units(text: str) -> frozenset[str]:
    if _DIGITS.isdisjoint(text):
        return frozenset()
    found = {_UNITS[u.lower()] for u in _QUANTITY_AFTER.findall(text) if u.lower() in _UNITS}
    return frozenset(found | {_UNITS[s] for s in _QUANTITY_BEFORE.findall(text)})


def negated(text: str) -> frozenset[str]:
    tokens = words(text)
    negated = not tokens.isdisjoint(_NEGATION_WORDS) or any(w.endswith("n't") for w in tokens)
    if negated and _NOT_NEGATING.search(text):  # "... or not?", "why not", "not only"
        tokens = words(_NOT_NEGATING.sub(" ", text))
        negated = not tokens.isdisjoint(_NEGATION_WORDS) or any(w.endswith("n't") for w in tokens)
    return frozenset({"negated"}) if negated else frozenset()


def quotes(text: str) -> frozenset[str]:
    if _QUOTE_CHARS.isdisjoint(text):
        return frozenset()
    return frozenset(plain("".join(g)).strip() for g in _QUOTED.findall(text))


def code(text: str) -> frozenset[str]:
    if not _CODE_HINT.search(text):  # most prompts: no character an identifier needs
        return frozenset()
    found: set[str] = set()
    if "`" in text:
        found.update(b.lower() for b in _BACKTICKS.findall(text))
        text = _BACKTICKS.sub(" ", text)
    tokens = text.split()
    for i, raw in enumerate(tokens):
        if _OPERATOR.fullmatch(operator := raw.strip("?,;:.\"'()")):
            found.add(operator)
            continue
        if raw == "-" and 0 < i < len(tokens) - 1:
            if all(
                _OPERAND.fullmatch(t.strip("?,;:.\"'()")) for t in (tokens[i - 1], tokens[i + 1])
            ):
                found.add(raw)
            continue
        token = raw.strip("?,!;:\"\u201c\u201d'").rstrip(".")
        plain_word = token.isalpha() and (token.islower() or token.isupper() or token.istitle())
        if not plain_word and _CODE.fullmatch(token):
            found.add(token.lower())
    return frozenset(found)
