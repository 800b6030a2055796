"""Numbers written in text — the one reader of them, and the words and notations it knows.

Digits with thousands separators, decimals and exponents ("2,000", "1.5", "2e6"); scale words and
letters ("1.5 million", "$40B", "800k", "$3bn"); number words before a scale ("a quarter million",
"two billion", "one and a half million"); signs and currency; percentages as written ("7.5%" ->
7.5). Timestamps ("10:31") and citation markers ("[3]", "[¶2]") are not numbers.

`parse_numbers(text)` gives the values, `find_numbers(text)` the values with their spans. The
vocabulary is shared by every reader that needs its own grammar on top (the figures planner reads
units and rates, the calculator reads expressions): `DIGITS` (a regex for a number in digits),
`to_float`, `NUMBER_WORDS`, `FRACTION_WORDS`, `SCALE_LETTERS`, `scale_words()` (from the domain
lexicon, kb/data/lexicon.json, so a user's `KB_LEXICON_FILE` extends them; read on first use, so
importing this module reads no settings), `number_words_pattern()` and `mentions_number(text)`
(does a text state any number at all).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache, lru_cache

from kb.lexicon import lexicon
from kb.timecode import CLOCK, TIME_PATTERN

__all__ = [
    "DIGITS", "FRACTION_WORDS", "NUMBER_WORDS", "SCALE_LETTERS", "Number", "alternation", "find_numbers",
    "mentions_number", "number_words_pattern", "parse_numbers", "scale_words", "strip_markers", "to_float",
]

NUMBER_WORDS: dict[str, int] = {  # no "zero": "zero-shot", "zero trust" are not figures
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}
# "a fifth" is 1/5: the denominator each fraction word names.
FRACTION_WORDS: dict[str, int] = {
    "half": 2, "third": 3, "quarter": 4, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "hundredth": 100,
}
# Letters glued to a number that scale it ("800k", "1.5B", "$3bn"); lower-case "m" only after a
# currency sign ("$5m": "5m" alone may be metres or minutes).
SCALE_LETTERS: dict[str, float] = {
    "k": 1e3, "K": 1e3, "M": 1e6, "MM": 1e6, "mn": 1e6, "b": 1e9, "B": 1e9, "bn": 1e9, "T": 1e12, "tn": 1e12,
}

# A number in digits: "2,000" (separators in threes), "1.5", "2e6", ".5".
DIGITS = r"(?:\d{1,3}(?:,\d{3})+(?!\d|,\d)|\d+)(?:\.\d+)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?"


def to_float(digits: str) -> float:
    """`"2,000.5"` -> 2000.5: a number matched by DIGITS as a float."""
    return float(digits.replace(",", ""))


def alternation(words: Iterable[str]) -> str:
    """A regex alternation of `words`, longest first (so "million" wins over "mil")."""
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


@cache
def scale_words() -> dict[str, float]:
    """Words that multiply the number before them: "million" -> 1e6, "bn" -> 1e9 (the lexicon's `scales`)."""
    return dict(lexicon().scales)


@cache
def number_words_pattern() -> str:
    """A regex alternation of the number words and the spelled-out scale words ("seven", "million")."""
    return alternation([*NUMBER_WORDS, *(w for w in scale_words() if w.isalpha() and len(w) > 2)])


@cache
def _mentions() -> re.Pattern[str]:
    return re.compile(rf"\d|\b(?:{number_words_pattern()}|{alternation(FRACTION_WORDS)}|dozen)\b", re.I)


def mentions_number(text: str) -> bool:
    """Whether `text` states a number at all: digits, a number, fraction or scale word, "a dozen"."""
    return _mentions().search(text) is not None


@dataclass(frozen=True)
class Number:
    """A number read in a text: its value (scales and sign applied) and where it stands."""

    value: float
    start: int
    end: int


# --- the reader ------------------------------------------------------------------------------------

_WORD_VALUES: dict[str, float] = {
    "a": 1, "an": 1, **NUMBER_WORDS, "half": 0.5, "a half": 0.5, "quarter": 0.25, "a quarter": 0.25,
}
_LETTERS = alternation(SCALE_LETTERS)  # lower-case "m" is not among them: it is allowed after a currency only
_WORD_ALTERNATION = alternation(_WORD_VALUES).replace("\\ ", r"\s+")  # "a half" -> "a\s+half"
_BRACKETED = re.compile(r"\[[^\[\]\n]{0,160}\]")
_MARKER_INSIDE = re.compile(rf"(?<![\d:]){TIME_PATTERN}(?![\d:])|¶|^\s*\^?\d+(?:\s*[,;\u2013-]\s*\^?\d+)*\s*$")
_PILCROW = re.compile(r"¶\s*\d+")
_RANGE_GAP = re.compile(r"^\s*(?:-|\u2013|\u2014|to)\s*$", re.IGNORECASE)


@cache
def _readers() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(a number in digits with its scale, a number word before a scale word), built on first use."""
    one = rf"(?:{alternation(scale_words())})s?"
    chain = rf"(?i:{one}(?:\s+{one})*)"
    digits = re.compile(
        rf"(?<![\w.])(?P<sign>[-\u2212])?(?P<cur>[$€£¥])?(?P<num>{DIGITS})"
        rf"(?:(?P<letter>{_LETTERS}|m(?=\W|$))(?![A-Za-z])|\s*(?P<words>{chain})\b)?"
    )
    words = re.compile(
        rf"\b(?P<word>{_WORD_ALTERNATION})(?P<and_half>\s+and\s+a\s+half)?\s+(?:(?:of\s+)?an?\s+)?(?P<words>{chain})\b",
        re.IGNORECASE,
    )
    return digits, words


def strip_markers(text: str) -> str:
    """`text` with citation markers ([10:31], [3], [src ¶2]) and bare timestamps blanked, offsets kept."""

    def blank(m: re.Match[str]) -> str:
        return " " * len(m.group(0))

    text = _BRACKETED.sub(lambda m: blank(m) if _MARKER_INSIDE.search(m.group(0)[1:-1]) else m.group(0), text)
    return _PILCROW.sub(blank, CLOCK.sub(blank, text))


def _chain(words: str) -> Decimal:
    scales = scale_words()
    mult = Decimal(1)
    for w in words.lower().split():
        mult *= Decimal(str(scales[w if w in scales else w[:-1]]))
    return mult


def find_numbers(text: str) -> list[Number]:
    """The numbers in `text` as a reader takes them, in order of appearance (see `parse_numbers`)."""
    return list(_find(text))


@lru_cache(maxsize=8192)  # the citation guard reads the same passage sentences for every claim
def _find(text: str) -> tuple[Number, ...]:
    clean = strip_markers(text)
    digits, words = _readers()
    found: list[tuple[int, int, Decimal, Decimal]] = []  # start, end, value before scaling, scale
    for m in digits.finditer(clean):
        value = Decimal(m.group("num").replace(",", ""))
        if m.group("sign"):
            value = -value
        letter, scale = m.group("letter"), m.group("words")
        mult = Decimal(1)
        if letter and letter != "m":
            mult = Decimal(str(SCALE_LETTERS[letter]))
        elif letter and m.group("cur"):
            mult = Decimal(10**6)
        elif scale:
            mult = _chain(scale)
        found.append((m.start(), m.end(), value, mult))
    for m in words.finditer(clean):
        value = Decimal(str(_WORD_VALUES[" ".join(m.group("word").lower().split())]))
        if m.group("and_half"):
            value += Decimal("0.5")
        found.append((m.start(), m.end(), value, _chain(m.group("words"))))
    found.sort(key=lambda t: t[0])
    out = []
    for i, (start, end, value, mult) in enumerate(found):
        # "1-2 million", "$5 to $7 billion": an unscaled number takes the next one's scale.
        if mult == 1 and i + 1 < len(found):
            nxt_start, _, _, nxt_mult = found[i + 1]
            if nxt_mult != 1 and _RANGE_GAP.match(clean[end:nxt_start]):
                mult = nxt_mult
        out.append(Number(float(value * mult), start, end))
    return tuple(out)


def parse_numbers(text: str) -> list[float]:
    """The numbers in `text` as a reader would take them, in order of appearance.

    Thousands separators, currency signs, scale words and letters are applied ("$420,000",
    "800k", "$1.2 trillion", "1.5B", "a quarter million", "2e6"); units are dropped ("27x",
    "2,000 GW"); percentages stay as written ("7.5%" -> 7.5). A range shares its scale word
    ("1-2 million" -> 1e6, 2e6). Timestamps ("10:31", "[1:02:03]") and citation markers
    ("[3]", "[¶2]") are not numbers.
    """
    return [n.value for n in _find(text)]
