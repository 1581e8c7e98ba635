"""The word helpers the checks share: a text's words, normalised, as a set, a list or a string."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = ["STRIP", "norm", "plain", "word_list", "words"]

_PLAIN_WORD = re.compile(r"\w+")
STRIP = "?,!;:()[]{}\"\u201c\u201d\u2018\u2019'*\\"


def norm(word: str) -> str:
    word = word.replace("\u2019", "'").replace(".", "").lower().removesuffix("'s")
    if not word.isascii():  # "Việt" is "viet"
        word = unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode()
    return word


@lru_cache(maxsize=4096)
def words(text: str) -> frozenset[str]:
    """Every word of ``text``, lower-cased, without dots ("U.S." is "us") or a final 's."""
    lowered = text.lower().replace("\u2019", "'").replace(".", "")
    if not lowered.isascii():
        lowered = unicodedata.normalize("NFKD", lowered).encode("ascii", "ignore").decode()
    found = {w.strip(STRIP) for w in lowered.split()}
    if "'s" in lowered:
        found = {w.removesuffix("'s") for w in found}
    found.discard("")
    return frozenset(found)


@lru_cache(maxsize=4096)
def plain(text: str) -> str:
    """Lower-cased words separated by single spaces, padded: ``" what is os path join "``."""
    return f" {' '.join(_PLAIN_WORD.findall(text.lower()))} "


@lru_cache(maxsize=4096)
def word_list(text: str) -> tuple[str, ...]:
    return tuple(_PLAIN_WORD.findall(text.lower()))
