"""Words for matching: the one tokenizer, its light stemmer and its stop-word list.

`tokenize(text)` -> lower-case word stems without stop words; BM25 (kb/lexical.py), sentence
scoring, abstention, citation checks and the figures planner all compare words through it.
`content_words(text, extra_stop)` is the same with more words left out and no bare numbers.
Misheard unit words and unit symbols meet their spelled-out form ("kW" -> "kilowatt"),
from the domain lexicon (kb/data/lexicon.json). Changing what `tokenize` returns changes the saved
BM25 indexes: bump `kb.lexical.FORMAT` with it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been being it its
    this that these those i you he she we they them his her our your their my me us do does did done
    have has had having not no so than then there here what which who whom whose when where why how
    can could would should will shall may might must about into over under up down out just also very
    uh um like yeah right okay mhm oh well really say said says tell told know think going get got
    one some any all more most much many such only own same too s t don didn isn wasn""".split()
)
_WORD = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*")


def aliases() -> dict[str, str]:
    """Misheard unit words -> the word meant, and unit symbols -> their word (so "GW" meets its
    spelled-out form), from the domain lexicon in use (kb/data/lexicon.json and KB_LEXICON_FILE),
    read on first use."""
    global _ALIASES
    if _ALIASES is None:
        _ALIASES = _read_aliases()
    return _ALIASES


def vocabulary_key() -> str:
    """A short hash of the aliases: a saved BM25 index is only current for the lexicon it was built with."""
    import hashlib
    import json

    return hashlib.sha1(json.dumps(sorted(aliases().items())).encode()).hexdigest()[:8]


def _read_aliases() -> dict[str, str]:
    from kb.lexicon import lexicon

    lex = lexicon()
    out = dict(lex.misheard)
    for unit, word in _unit_words(lex).items():
        if len(unit) >= 2 and unit.isalpha():
            out.setdefault(unit.lower(), word)
    return out


def _unit_words(lex: Any) -> dict[str, str]:
    """Each unit's first (singular) word: {"GW": ...}."""
    first: dict[str, str] = {}
    for word, unit in lex.word_units.items():
        if word not in lex.misheard and " " not in word and "-" not in word:
            first.setdefault(unit, word)
    return first


_ALIASES: dict[str, str] | None = None


_STEMS: dict[str, str] = {}


def stem(word: str) -> str:
    """A deliberately light stemmer: plurals and a few verb endings, so 'GPUs' meets 'GPU', and
    British spellings as American ones ('colours' meets 'colors')."""
    got = _STEMS.get(word)
    if got is None:
        got = _stem(word)
        if len(_STEMS) < 1_000_000:  # memo; bounded for corpora with very many distinct words
            _STEMS[word] = got
    return got


# British spellings meet American ones ("favourite" / "favorite", "optimise" / "optimize", "centre" /
# "center"): questions and transcripts are often written on different sides of the Atlantic.
_OUR = re.compile(r"^([a-z]{3,})our(ite|ites|s|ed|ing|able|ably|ful|er|ers|less|hood|hoods)?$")
_ISE = re.compile(r"^([a-z]{3,}[b-df-hj-np-tv-z])is(e|es|ed|ing|ation|ations|er|ers)$")
_TRE = re.compile(r"^([a-z]{2,})(t|b)re(s|d)?$")
# words whose "-our" or "-ise" is the same in American English
_OUR_KEPT = frozenset("contour detour devour velour paramour troubadour amour".split())
_ISE_KEPT = frozenset(
    "advertis enterpris exercis expertis franchis merchandis compromis supervis televis improvis surpris promis premis "
    "otherwis likewis clockwis chastis devis revis advis compris despis incis precis concis demis excis exorcis "
    "circumcis treatis paradis mortis".split())


def american(word: str) -> str:
    """The American spelling of a British one (lower case), else the word."""
    m = _OUR.match(word)
    if m and f"{m.group(1)}our" not in _OUR_KEPT:
        return f"{m.group(1)}or{m.group(2) or ''}"
    m = _ISE.match(word)
    if m and f"{m.group(1)}is" not in _ISE_KEPT:
        return f"{m.group(1)}iz{m.group(2)}"
    m = _TRE.match(word)
    if m:
        return f"{m.group(1)}{m.group(2)}er{'ed' if m.group(3) == 'd' else m.group(3) or ''}"
    return word


def _stem(word: str) -> str:
    word = american(aliases().get(word, word))
    # "-ings" as "-ing": "meetings" meets "meeting" (both "meet"), not a stem of its own
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("ings", ""), ("ing", ""), ("ed", ""), ("es", "e"), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            if suffix == "ed" and word.endswith("eed"):
                return word  # "speed", "succeed", "proceed": no "-ed" to cut
            stem = word[: -len(suffix)] + repl
            return _verb_stem(stem) if suffix in ("ings", "ing", "ed") else stem
    return word


_VOWELS = frozenset("aeiou")


def _verb_stem(stem: str) -> str:
    """What is left of a word once "-ing" or "-ed" is cut, repaired as Porter's step 1b repairs it,
    so the form meets its base word: a lost "e" put back ("coding" and "scaled" meet "code" and
    "scale": "rotat", "troubl", "realiz" and a short consonant-vowel-consonant stem get it) and a
    doubled consonant undone ("running" meets "run")."""
    if not _VOWELS & set(stem):
        return stem
    if stem.endswith(("bl", "iz")) or (stem.endswith("at") and len(stem) > 2 and stem[-3] not in _VOWELS):
        return stem + "e"  # "rotat", "updat" (not "heat", "treat": Porter's last step, left out here, evens those)
    if len(stem) >= 4 and stem[-1] == stem[-2] and stem[-1] not in _VOWELS and stem[-1] not in "lsz":
        return stem[:-1]  # "runn", "stopp"; a three-letter stem so ending is a word ("add", "egg")
    if _one_syllable_cvc(stem):
        return stem + "e"
    return stem


def _one_syllable_cvc(stem: str) -> bool:
    """Porter's measure 1 with a consonant-vowel-consonant end whose last letter is not w, x or y
    ("cod", "scal", "hop"; not "train", "meet" or "think")."""
    kinds = "".join("v" if c in _VOWELS or (c == "y" and i > 0 and stem[i - 1] not in _VOWELS) else "c"
                    for i, c in enumerate(stem))
    measure = len(re.findall(r"v+c+", kinds))
    return measure == 1 and kinds.endswith("cvc") and stem[-1] not in "wxy"


def _unpossessed(word: str) -> str:
    """"openai's" -> "openai" (a string test: this runs for every word; `_WORD` never ends a word
    with the apostrophe itself)."""
    return word[:-2] if word.endswith("'s") else word


def tokenize(text: str) -> list[str]:
    """Lowercase word stems without stopwords."""
    words = (_unpossessed(w) for w in _WORD.findall(text.lower().replace("’", "'")))
    return [stem(w) for w in words if w and w not in STOPWORDS]


def content_words(text: str, extra_stop: Iterable[str] = ()) -> frozenset[str]:
    """The stems of `text` that say what it is about: `tokenize` without `extra_stop` (words, given
    in any form: they are tokenized too), bare numbers and one-letter stems."""
    stop = _stop_set(tuple(extra_stop))
    return frozenset(t for t in tokenize(text) if len(t) > 1 and not t[0].isdigit() and t not in stop)


_STOP_SETS: dict[tuple[str, ...], frozenset[str]] = {}


def _stop_set(words: tuple[str, ...]) -> frozenset[str]:
    got = _STOP_SETS.get(words)
    if got is None:
        got = _STOP_SETS[words] = frozenset(tokenize(" ".join(words))) | frozenset(w.lower() for w in words)
    return got
