"""The checks on the texts' structure: alternatives replaced, roles swapped, shared text."""

from __future__ import annotations

from functools import lru_cache
from itertools import pairwise

from binary_semantic_cache.guards._text import word_list, words

__all__ = ["outside_shared_text", "replaced_alternatives", "swapped_roles"]

# Each line is a set of alternatives, "|" between them, each with its spellings: a question
# about one rarely has the answer of the same question about another. "zoom_in" is the two words
# "zoom in" in a row; a line that starts with "|" goes on with the set above.
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
hot hotter hottest | cold colder coldest
safe safer safest | dangerous unsafe
legal | illegal
true | false
right | wrong
positive | negative
strong stronger strongest | weak weaker weakest
rich richer richest | poor poorer poorest
old older oldest | young younger youngest
old older oldest | new newer newest
early earlier earliest | late later latest
first | last
odd | even
more | less fewer
most | least
maximum | minimum
before | after
input | output
love | hate
like | dislike
advantages advantage benefits pros pro | disadvantages disadvantage drawbacks cons con
similar similarity similarities | difference differences
accept | reject
agree | disagree
success | failure
above | below
inside | outside
top | bottom
up | down
inner | outer
table tables | row rows | column columns
word words | sentence sentences | paragraph paragraphs | page pages
bullet bullets | sentence sentences | paragraph paragraphs | headline headlines | table | tweet
| essay | poem | haiku | story | email | letter | summary | outline | script | slogan | limerick
| sonnet | song
formal professional | informal casual | friendly | polite | angry | funny humorous | serious
| sarcastic | persuasive | enthusiastic | empathetic | neutral | rude | apologetic | academic
| poetic | positive | negative | simple simpler | clear clearer | detailed long longer
| brief concise short shorter | complaint | thank_you | apology | resignation
| recommendation reference | cover | invitation | condolence sympathy
beginner beginners novice novices | intermediate | advanced expert experts
english | spanish | french | german | italian | portuguese | chinese | mandarin | japanese
| korean | russian | arabic | hindi | dutch | turkish | polish | swedish | greek | hebrew
json | yaml | csv | xml | markdown | html
home | gym
internal | external
global | local
public | private
male | female
man men | woman women
boy boys | girl girls
husband | wife
father dad | mother mom mum
son | daughter
brother | sister
boyfriend | girlfriend
employee employees | employer employers
buyer buyers | seller sellers
landlord landlords | tenant tenants
student students | teacher teachers
adult adults | child children kid kids | baby babies infant infants | teen teens teenager teenagers
morning | afternoon | evening | night
summer | winter | spring | autumn
day days daily | week weeks weekly | month months monthly | year years yearly annual annually
hour hours hourly | minute minutes
cat cats kitten kittens | dog dogs puppy puppies
vegan | vegetarian
north northern | south southern | east eastern | west western
ascending | descending
horizontal horizontally | vertical vertically
uppercase | lowercase
client | server
frontend | backend
sync synchronous | async asynchronous
"""
# Actions, as _CONTRAST_SETS. Two of one set in one text are steps in order ("read the text and
# write a summary"), which a rewording may swap; only a replacement counts.
_ACTION_SETS = """
increase increasing | decrease decreasing reduce
gain | lose
win | lose
buy buying | sell selling
import | export
start | stop
add create | remove delete
install | uninstall
upgrade | downgrade
read reading | write writing
send sending | receive receiving
show | hide
connect | disconnect
include | exclude
push | pull
zip | unzip
lock | unlock
block | unblock
follow | unfollow
mute | unmute
zoom_in | zoom_out
log_in login sign_in signin | log_out logout sign_out signout
turn_on switch_on | turn_off switch_off
opt_in | opt_out
enable | disable
upload | download
encrypt | decrypt
encode encoding | decode decoding
compress compression | decompress decompression
"""


def _sets(text: str) -> list[str]:
    return text.strip().replace("\n|", " |").splitlines()


def _contrast_sets() -> list[str]:
    return _sets(_CONTRAST_SETS) + _sets(_ACTION_SETS)


def _contrast_index() -> dict[str, list[tuple[int, str]]]:
    """word -> (set number, the alternative's first spelling), for every set the word is in."""
    index: dict[str, list[tuple[int, str]]] = {}
    for number, line in enumerate(_contrast_sets()):
        for alternative in line.split("|"):
            spellings = alternative.split()
            for spelling in spellings:
                index.setdefault(spelling.replace("_", " "), []).append((number, spellings[0]))
    return index


_CONTRASTS = _contrast_index()
# Small sets of things name roles one question can hold in either order ("can a man ask a
# woman", "what do North Indians think of South Indians"); large ones (languages, formats, tones)
# name what is asked for, and two of them in one question rarely swap roles ("I'm Chinese; how do
# I learn English?").
_ROLE_SETS = frozenset(
    number for number, line in enumerate(_sets(_CONTRAST_SETS)) if line.count("|") < 4
)
_PHRASE_STARTS = frozenset(spelling.split()[0] for spelling in _CONTRASTS if " " in spelling)


@lru_cache(maxsize=4096)
def _alternatives(text: str) -> frozenset[tuple[int, str]]:
    found = words(text) & _CONTRASTS.keys()
    if not words(text).isdisjoint(_PHRASE_STARTS):
        listed = word_list(text)
        found |= {f"{a} {b}" for a, b in pairwise(listed)} & _CONTRASTS.keys()
    return frozenset(a for w in found for a in _CONTRASTS[w])


def replaced_alternatives(query: str, stored: str) -> tuple[set[str], set[str]]:
    """The alternatives of each text that the other replaced with another of the same set."""
    mine, theirs = _alternatives(query), _alternatives(stored)
    only_mine, only_theirs = mine - theirs, theirs - mine
    replaced = {n for n, _ in only_mine} & {n for n, _ in only_theirs}
    return (
        {a for n, a in only_mine if n in replaced},
        {a for n, a in only_theirs if n in replaced},
    )


# Words after which comes the target, source or second term of a relation.
_DIRECTION_MARKERS = frozenset({"to", "into", "from", "than", "against"})
_DETERMINERS = frozenset({"a", "an", "the", "my", "your", "his", "her", "our", "their", "its"})


@lru_cache(maxsize=4096)
def _directed(text: str) -> tuple[tuple[str, str, frozenset[str]], ...]:
    """(marker, the word it points at, the words before the marker) for each direction marker."""
    words = word_list(text)
    found = []
    for i, word in enumerate(words):
        if word in _DIRECTION_MARKERS:
            j = i + 1
            while j < len(words) and words[j] in _DETERMINERS:
                j += 1
            if j < len(words):
                found.append((word, words[j], frozenset(words[:i])))
    return tuple(found)


def swapped_roles(query: str, stored: str) -> tuple[set[str], set[str]]:
    """The words a marker points at in each text when the two swap places across it: each text
    has before the marker what the other has after it ("A to B" vs "B to A").
    """
    for marker, mine, before_mine in _directed(query):
        for other_marker, theirs, before_theirs in _directed(stored):
            swapped = theirs in before_mine and mine in before_theirs
            if marker == other_marker and mine != theirs and swapped:
                return {f"{marker} {mine}"}, {f"{marker} {theirs}"}
    # Two alternatives of one set in the other order: "a man attract a woman" and the reverse.
    theirs_in_order = {number: (a, b) for number, a, b in _ordered_alternatives(stored)}
    for number, first, second in _ordered_alternatives(query):
        if theirs_in_order.get(number) == (second, first):
            return {f"{first} before {second}"}, {f"{second} before {first}"}
    exchanged = _exchanged_words(query, stored)
    if exchanged is not None:
        first, second = exchanged
        return {f"{first} before {second}"}, {f"{second} before {first}"}
    return set(), set()


# Words that list alternatives without ordering them: "men and women", "buy or sell", in English
# and in the other languages the exchange rule below meets most ("hombres y mujeres").
_COORDINATORS = frozenset(
    {"and", "or", "nor", "vs", "versus", "y", "o", "e", "et", "ou", "und", "oder", "и", "или"}
)


def _exchanged_words(query: str, stored: str) -> tuple[str, str] | None:
    """Two words that trade places with all else the same ("Why do Poles dislike Russians?" vs
    "Why do Russians dislike Poles?", in any language), unless side by side or listed.
    """
    one, other = word_list(query), word_list(stored)
    if len(one) != len(other) or one == other:
        return None
    differ = [i for i, (a, b) in enumerate(zip(one, other, strict=True)) if a != b]
    if len(differ) != 2:
        return None
    i, j = differ
    between = one[i + 1 : j]
    listed = not between or (len(between) <= 2 and not _COORDINATORS.isdisjoint(between))
    if one[i] != other[j] or one[j] != other[i] or listed:
        return None
    return one[i], one[j]


@lru_cache(maxsize=4096)
def _ordered_alternatives(text: str) -> tuple[tuple[int, str, str], ...]:
    """(set number, first, second) for each set of roles with two in ``text`` in an order
    that may matter: not next to each other ("son/daughter") nor listed with "and", "or".
    """
    found = word_list(text)
    seen: dict[int, list[tuple[str, int]]] = {}
    for i, word in enumerate(found):
        for number, alternative in _CONTRASTS.get(word, ()):
            if number not in _ROLE_SETS:
                continue
            firsts = seen.setdefault(number, [])
            if all(a != alternative for a, _ in firsts):
                firsts.append((alternative, i))
    ordered = []
    for number, firsts in seen.items():
        if len(firsts) < 2:
            continue
        (first, i), (second, j) = firsts[:2]
        between = found[i + 1 : j]
        listed = not between or (len(between) <= 2 and not _COORDINATORS.isdisjoint(between))
        if not listed:
            ordered.append((number, first, second))
    return tuple(ordered)


# A word is shared when it is part of a run of _SHARED_RUN words that the other text also holds.
# _SHARED_MIN_WORDS shared on each side, and half of each text, make a pair "mostly shared". A RAG
# prompt repeats its template and context in a hundred words or more, and different questions in
# it embed above 0.91; few questions repeat 24 words (19 QQP pairs above 0.91 in 40,362).
_SHARED_RUN = 3
_SHARED_MIN_WORDS = 24


@lru_cache(maxsize=4096)
def _runs(text: str) -> frozenset[tuple[str, ...]]:
    """The runs of ``_SHARED_RUN`` words in ``text``."""
    found = word_list(text)
    return frozenset(found[i : i + _SHARED_RUN] for i in range(len(found) - _SHARED_RUN + 1))


def _unshared(words: tuple[str, ...], theirs: frozenset[tuple[str, ...]]) -> list[str]:
    """The words of ``words`` in no run of ``_SHARED_RUN`` words that ``theirs`` also holds."""
    covered = [False] * len(words)
    for i in range(len(words) - _SHARED_RUN + 1):
        if words[i : i + _SHARED_RUN] in theirs:
            covered[i : i + _SHARED_RUN] = [True] * _SHARED_RUN
    return [word for word, shared in zip(words, covered, strict=True) if not shared]


def outside_shared_text(query: str, stored: str) -> tuple[set[str], set[str]]:
    """The words of each text outside what the two repeat word for word, when that is most of
    each; two empty sets when it is not (or when only case and punctuation differ).

    Linear in the texts' length: run sets, not an alignment, so long prompts stay cheap.
    """
    one, other = word_list(query), word_list(stored)
    if min(len(one), len(other)) < _SHARED_MIN_WORDS or one == other:
        return set(), set()
    only_one, only_other = _unshared(one, _runs(stored)), _unshared(other, _runs(query))
    for whole, unshared in ((one, only_one), (other, only_other)):
        shared = len(whole) - len(unshared)
        if shared < max(_SHARED_MIN_WORDS, len(whole) / 2):
            return set(), set()
    return set(only_one), set(only_other)
