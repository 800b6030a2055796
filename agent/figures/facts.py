"""Quantities read out of text: numbers with units, rates, ranges, fractions and multipliers
(the lexicon's unit words, misheard spellings included), as the planner's facts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kb.lexicon import lexicon
from kb.numbers import DIGITS, FRACTION_WORDS, NUMBER_WORDS, SCALE_LETTERS, alternation, scale_words, to_float
from kb.timecode import STAMP, TIME_PATTERN


@dataclass(frozen=True)
class Fact:
    """One quantity read from the question or a passage; `sentence` is the passage sentence (for citing)."""

    text: str
    value: float
    unit: str
    origin: str  # "question" or "passage"
    passage_index: int | None
    sentence: str | None


# --- lexicon --------------------------------------------------------------------------------

_LEXICON = lexicon()  # unit words (misheard forms included), symbols, count units: kb/data/lexicon.json
_WORD_UNITS = dict(_LEXICON.word_units)
_SYMBOL_UNITS = dict(_LEXICON.symbols)
_DENOMINATOR_ONLY = {"s": "s", "h": "hour"}  # too ambiguous after a bare number ("1990s")
_COUNT = set(_LEXICON.count_units)
_TIME_UNITS = {"ms", "s", "minute", "hour", "day", "week", "month", "year"}
_SCALES = scale_words()  # "million", "bn", ... (the lexicon's, through kb.numbers)

_GROWTH_WORDS = {"doubl": 2, "tripl": 3, "quadrupl": 4}
# "tripled", "3x", "10-fold": a growth factor
_GROWTH = re.compile(
    r"\b(?i:(?P<word>doubl|tripl|quadrupl)(?:e|es|ed|ing)\b)"
    r"|(?P<n>(?<![\w.])\d+(?:\.\d+)?)\s*(?:x|×|-?fold)(?![A-Za-z0-9])"
)


_UNIT = rf"(?:(?i:{alternation(list(_WORD_UNITS))})|{alternation(list(_SYMBOL_UNITS))})(?![A-Za-z0-9])"
_ANY_UNIT = (rf"(?:(?i:{alternation(list(_WORD_UNITS))})"
             rf"|{alternation(list(_SYMBOL_UNITS) + list(_DENOMINATOR_ONLY))})(?![A-Za-z0-9])")
_NUM = rf"(?<![A-Za-z0-9.,])(?<![A-Za-z]-)(?:{DIGITS})"
_WORDNUM = rf"(?i:{alternation(list(NUMBER_WORDS))})"
_SCALE = rf"(?i:{alternation(list(_SCALES))})"

_QTY = re.compile(
    rf"(?P<dollar>\$\s?)?"
    rf"(?:(?P<half>\b(?i:half\s+an?))\b"
    rf"|(?P<num>{_NUM})(?P<suffix>(?:{alternation(SCALE_LETTERS)})(?![A-Za-z0-9]))?"
    rf"|\b(?P<word>{_WORDNUM})\b"
    rf"|\b(?P<art>(?i:an?|each|every))\b)"
    rf"(?:\s+(?P<scale>{_SCALE})\b)?"
    rf"(?:(?:\s+[A-Z]+\d+[A-Za-z0-9-]*)?(?:\s*|-)(?P<unit>{_UNIT}))?"  # "1.2 million A40 hours", "a 40-kW rack"
)
_PER = re.compile(
    rf"\s*(?:/\s*|(?i:per|for\s+(?:an?|each|every|one)|an?|each|every)\s+)(?:(?P<num>{_NUM})\s*)?"
    rf"(?:(?P<scale>{_SCALE})\s+)?(?P<unit>{_ANY_UNIT})"
)
_COPULA = re.compile(
    r"\s+(?i:is|are|was|were|costs?|uses?|draws?|needs?|consumes?|takes?|requires?|means?|equals?|gets?"
    r"|runs(?:\s+at)?|holds?|has|have|contains?|houses?|fits?|supports?|powers?|buys?|delivers?|produces?)(?![A-Za-z])"
    r"|\s*[=~≈]"
)
_ADJ_COUNT = re.compile(
    rf"[\s-]*(?P<count>(?i:{alternation([w for w, u in _WORD_UNITS.items() if u in _COUNT])}))(?![A-Za-z0-9])"
)
_RANGE_GAP = re.compile(r"\s*(?:to|-|–)\s*$", re.I)
_FALSE_START_FILLERS = {"uh", "um", "er", "sorry", "i", "mean", "rather", "actually"}
_FRACTION = re.compile(
    rf"\b(?i:(?:a|an|one)\s+(?P<den>{alternation(FRACTION_WORDS)})"
    rf"|(?P<k>two|three|four|five|six|seven|eight|nine)\s+(?P<dens>{alternation(w + 's' for w in FRACTION_WORDS if w != 'half')})"
    r"|(?P<half>half)(?!\s+an?\s))\b"
)
_MULTIPLIER = re.compile(
    rf"(?P<n>{_NUM})\s*(?:x|×|-?fold)(?![A-Za-z0-9])|\b(?P<oom>(?i:one|two|three|four|five|\d+))\s+(?i:orders?\s+of\s+magnitude)\b"
)
_TIMESTAMP = re.compile(rf"{STAMP.pattern}|^\s*{TIME_PATTERN}\s+|>>", re.M)  # and speaker changes


def _lex(surface: str) -> str | None:
    return _WORD_UNITS.get(surface.lower()) or _SYMBOL_UNITS.get(surface) or _DENOMINATOR_ONLY.get(surface)


# --- extraction ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Raw:
    """A quantity, rate or plain number found in one text, with its character span."""

    start: int
    end: int
    value: float
    unit: str | None  # None: a bare number (kept only to join ranges like "1 to 2 kW")
    kind: str  # "quantity" | "rate" | "fraction" | "multiplier" | "number" (no unit: "a million")
    article: bool = False  # "a terawatt", "one GPU": the 1 is implied, not stated
    scale: float = 1.0  # the scale word's factor ("million"), to read "2.4-2.5 million" right

    def text(self, source: str) -> str:
        return source[self.start:self.end]


def _quantities(text: str) -> list[_Raw]:
    found: list[_Raw] = []
    for m in _QTY.finditer(text):
        if m.group("half"):
            value, explicit = 0.5, True
        elif m.group("num"):
            value, explicit = to_float(m.group("num")) * SCALE_LETTERS.get(m.group("suffix") or "", 1.0), True
        elif m.group("word"):
            word = m.group("word").lower()
            value, explicit = float(NUMBER_WORDS[word]), word != "one"
        else:
            value, explicit = 1.0, False
        scale = _SCALES[m.group("scale").lower()] if m.group("scale") else 1.0
        if m.group("scale"):
            value *= scale
            explicit = True
        dollar = bool(m.group("dollar")) and (m.group("num") is not None or m.group("half") is not None)
        start = m.start() if dollar else m.start() + len(m.group("dollar") or "")
        unit = _lex(m.group("unit")) if m.group("unit") else None
        end = m.end()
        if dollar and unit != "USD":
            unit = "USD"
            end = m.end("scale") if m.group("scale") else m.end("suffix") if m.group("suffix") else m.end("num")
        if unit is None and not explicit:
            continue
        found.append(_Raw(start, end, value, unit, "quantity", article=not explicit, scale=scale))
    return found


def _merge_ranges(text: str, qs: list[_Raw]) -> list[_Raw]:
    """`a kilowatt to 3 kilowatts` / `3.1-3.3 million hours` / `between 1 and 2 kW` -> one quantity at
    the low end of the range.

    "from 30 GW to 100 GW" is a change, not a range, and stays two quantities.
    """
    out: list[_Raw] = []
    i = 0
    while i < len(qs):
        q = qs[i]
        nxt = qs[i + 1] if i + 1 < len(qs) else None
        if (nxt is not None and nxt.unit is not None and not nxt.article and (q.unit in (None, nxt.unit))
                and (_RANGE_GAP.match(text[q.end:nxt.start]) and not re.search(r"(?i:\bfrom)\s*$", text[:q.start])
                     or re.match(r"\s*(?i:and)\s*$", text[q.end:nxt.start])
                     and re.search(r"(?i:\bbetween)\s*$", text[:q.start])
                     and not re.search(r"(?i:\b(?:gap|difference|distance|ratio|spread|change)\s+between)\s*$", text[:q.start]))):
            low = q.value * nxt.scale if q.unit is None and q.scale == 1.0 else q.value
            out.append(_Raw(q.start, nxt.end, min(low, nxt.value), nxt.unit, "quantity", scale=nxt.scale))
            i += 2
            continue
        out.append(q)
        i += 1
    return out


def _drop_false_starts(text: str, qs: list[_Raw]) -> list[_Raw]:
    """Speech repairs: in "two million GPUs uh three million GPUs" only the second number counts.

    A number is dropped when the next one has the same unit and only fillers ("uh", "sorry") or
    a cut-off start of that unit's word ("G" before "GPUs") stand between them.
    """
    keep = []
    for i, q in enumerate(qs):
        nxt = qs[i + 1] if i + 1 < len(qs) else None
        if nxt is not None and nxt.unit is not None and q.unit in (None, nxt.unit):
            gap = text[q.end:nxt.start]
            words = re.findall(r"[A-Za-z']+", gap)
            unit_word = (re.findall(r"[A-Za-z]+", text[nxt.start:nxt.end]) or [""])[-1].lower()
            if q.unit is None and not gap.strip():
                continue  # "700 7 terawatts": a bare number restarted at once
            if (words and len(words) <= 3 and not re.search(r"[.?!;:]", gap)
                    and all(w.lower() in _FALSE_START_FILLERS or unit_word.startswith(w.lower()) for w in words)):
                continue
        keep.append(q)
    return keep


def _extract(text: str) -> list[_Raw]:
    """Quantities, rates, fractions, multipliers and bare numbers in `text`, in order."""
    qs = _drop_false_starts(text, _merge_ranges(text, _quantities(text)))
    used: set[int] = set()
    rates = _per_rates(text, qs, used)
    rates += _copula_rates(text, qs, used)
    spans = [(r.start, r.end) for r in rates]
    out = rates + [q if q.unit is not None else _Raw(q.start, q.end, q.value, "", "number")
                   for i, q in enumerate(qs)
                   if i not in used and not any(s <= q.start and q.end <= e for s, e in spans)]
    out = _with_fractions_and_multipliers(text, out)
    out = [_Raw(o.start, o.end, o.value, o.unit, "fraction", o.article) if o.unit == "%" else o for o in out]
    return sorted(out, key=lambda r: r.start)


def _per_rates(text: str, qs: list[_Raw], used: set[int]) -> list[_Raw]:
    """Rates written with "per" ("3 kW per GPU") or as "N <unit> a <count>"; marks the quantities
    they consume in `used`."""
    rates: list[_Raw] = []
    for i, q in enumerate(qs):
        if q.unit is None or q.article or q.unit == "%" or i in used:
            continue
        m = _PER.match(text, q.end)
        if m:
            den = _lex(m.group("unit"))
            if den and den != q.unit:
                div = to_float(m.group("num")) if m.group("num") else 1.0
                div *= _SCALES[m.group("scale").lower()] if m.group("scale") else 1.0
                if div:
                    rates.append(_Raw(q.start, m.end(), q.value / div, f"{q.unit}/{den}", "rate"))
                    used.add(i)
                    used.update(j for j, o in enumerate(qs) if o.start >= q.end and o.end <= m.end())
                    continue
        m = _ADJ_COUNT.match(text, q.end)
        if m and q.unit not in _COUNT and re.search(r"\b(?i:an?|each|every|one|per)\s+$", text[:q.start]):
            count = _lex(m.group("count")) or "person"
            rates.append(_Raw(q.start, m.end(), q.value, f"{q.unit}/{count}", "rate"))
            used.add(i)
    return rates


def _copula_rates(text: str, qs: list[_Raw], used: set[int]) -> list[_Raw]:
    """Rates stated as an equation ("a rack is 40 servers"): an article quantity, a
    copula, and the next quantity in the same clause; marks both in `used`."""
    rates: list[_Raw] = []
    for i, y in enumerate(qs):
        if not y.article or i in used or y.unit is None:
            continue
        m = _COPULA.match(text, y.end)
        if not m:
            continue
        for j in range(i + 1, len(qs)):
            q = qs[j]
            if j in used or q.unit is None:
                continue
            gap = text[m.end():q.start]
            if re.search(r"[.?!;]", gap) or len(gap.split()) > 5:
                break
            if q.unit not in ("%", y.unit):
                rates.append(_Raw(y.start, q.end, q.value, f"{q.unit}/{y.unit}", "rate"))
                used.update((i, j))
            break
    return rates


def _with_fractions_and_multipliers(text: str, out: list[_Raw]) -> list[_Raw]:
    """`out` plus the fractions ("two thirds") and multipliers ("10x", "an order of magnitude") no
    quantity or rate overlaps; a bare number inside one ("two" in "two thirds") gives way to it."""
    taken = [(r.start, r.end) for r in out if r.kind != "number"]

    def free(s: int, e: int) -> bool:
        nonlocal out
        if any(s < te and ts < e for ts, te in taken):
            return False
        out = [o for o in out if not (o.kind == "number" and s < o.end and o.start < e)]
        return True

    for m in _FRACTION.finditer(text):
        if free(m.start(), m.end()):
            if m.group("den"):
                value = 1 / FRACTION_WORDS[m.group("den").lower()]
            elif m.group("k"):
                value = NUMBER_WORDS[m.group("k").lower()] / FRACTION_WORDS[m.group("dens").lower()[:-1]]
            else:
                value = 0.5
            out.append(_Raw(m.start(), m.end(), value, "", "fraction"))
    for m in _MULTIPLIER.finditer(text):
        if free(m.start(), m.end()):
            if m.group("n"):
                value = to_float(m.group("n"))
            else:
                oom = m.group("oom").lower()
                value = 10.0 ** (NUMBER_WORDS.get(oom) or int(oom))
            out.append(_Raw(m.start(), m.end(), value, "", "multiplier"))
    return out


def extract_facts(text: str) -> list[Fact]:
    """Every quantity, rate, fraction, multiplier and bare number in `text` (as question facts), in order.

    Units are calculator unit strings ("GW", "USD/GW", "GPU/GW", "%"); fractions, multipliers
    and bare numbers have unit "". Articles alone ("a terawatt") are not facts.
    """
    return [Fact(r.text(text), r.value, r.unit or "", "question", None, None) for r in _extract(text) if not r.article]


def _clean(passage: str) -> str:
    return re.sub(r"\s+", " ", _TIMESTAMP.sub(" ", passage)).strip()


def _sentences(passage: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", _clean(passage)) if s]


def _excerpt(sentence: str, start: int, end: int, width: int = 160) -> str:
    """Long unpunctuated transcript "sentences" are cut to a window around the fact."""
    if len(sentence) <= 2 * width + (end - start):
        return sentence
    lo = max(0, start - width)
    hi = min(len(sentence), end + width)
    lo = sentence.rfind(" ", 0, lo) + 1 if lo > 0 else 0
    cut = sentence.find(" ", hi)
    hi = len(sentence) if cut < 0 else cut
    return ("…" if lo else "") + sentence[lo:hi] + ("…" if hi < len(sentence) else "")
