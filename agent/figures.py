"""The deterministic "figures" planner of the offline backend: question -> one calculate() expression.

No language model is involved. `plan(question, passages)` reads quantities with units out of
the question and the retrieved passages ("$700 per tonne", "a quarter million servers",
"400k tokens", "a fifth"), works out which unit the question asks for ("how many terawatts"
-> GW, "what does one GPU cost" -> USD/GPU, "in percent" -> %), and then combines at most a
few facts by dimensional analysis into ONE expression for `agent.calculator.calculate`.

How facts are read:
- a quantity is a number (digits, `400k`, `half a million`, `a billion`, `seven`) followed,
  after a space or a hyphen ("a 40-kW rack"), by
  a unit word (`GW`, `terawatts`, misheard spellings from the lexicon, `ms`, `GPUs`,
  `people`, `%`), or `$` before a number; digits inside a name ("V3", "GPT-4") are no figure;
- a rate is `X per Y` / `X/Y` / `X a Y`, `a Y is|costs ... X` ("a rack is forty
  servers" -> server/rack) or `a <quantity> <count noun>` ("a 2 kW GPU" -> kW/GPU);
- a range ("a litre to 2 litres") counts as its low end; a false start corrected in
  speech ("two million T three million GPUs") yields only the corrected value;
- fractions ("a fifth"), percentages and multipliers ("10x") are plain numbers, used only by
  the fraction, part-of-a-whole and growth patterns.

How a plan is chosen, first match wins:
1. growth: "tripling every year for 3 years" -> 3**3 (the growth word may come from a passage
   when the question asks "by what factor did it grow ... for three years");
2. shares with numbers in the question: "what fraction of 80 GW is 6 GW" -> 6 GW / 80 GW in %;
   "if 100 GW is a fifth of the grid, how big is the grid" -> 100 GW / 0.2; "80% of 30 GW";
3. shares and ratios named in words: "A as a percentage of B", "what percentage of B would A
   make up", "how many times larger is A than B", "how many times more hours went into A than
   into B" -> each side is a number of the question or the passage figure whose context best
   matches the phrase; a side its words match no figure for ("…than the smaller one") is the
   other figure of the same dimensions in the sentence of the side that is named;
4. a share named in words and applied to the question's one quantity ("the author's expected export
   share applied to 12 MW") -> the passage percentage or fraction whose sentence holds a word of the
   words naming the share ("expected export") × 12 MW;
5. otherwise a search over products/quotients of up to three facts, no two of one kind, whose
   dimensions equal the target's; a percentage the question applies ("minus 10%") multiplies
   the result. Preferred: every number of the question used, then the rates the question
   names ("at the speaker's servers per rack"), rates over bare passage figures, fewer passage
   facts, fewer facts, fewer divisions, passage facts whose context shares rare words with
   the question, earlier passages. A passage figure quoted as it stands is a lookup, not a plan.

`needs_figures(question)` tells computation questions from lookups; `extract_facts(text)`
exposes the reader. Importing this module is cheap: pint is loaded (once) only when `plan`
needs dimensions.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from agent.calculator import CalcError, calculate, unit_dimensions
from kb.asking import is_question, is_tag_question
from kb.lexicon import lexicon
from kb.numbers import DIGITS, FRACTION_WORDS, NUMBER_WORDS, SCALE_LETTERS, alternation, scale_words, to_float
from kb.timecode import STAMP, TIME_PATTERN
from kb.tokens import content_words

__all__ = ["Fact", "Plan", "extract_facts", "needs_figures", "plan"]


@dataclass(frozen=True)
class Fact:
    """One quantity read from the question or a passage; `sentence` is the passage sentence (for citing)."""

    text: str
    value: float
    unit: str
    origin: str  # "question" or "passage"
    passage_index: int | None
    sentence: str | None


@dataclass(frozen=True)
class Plan:
    """`calculate(expression, to=to)` answers the question; `facts` are the inputs, in expression order."""

    expression: str
    to: str | None
    facts: tuple[Fact, ...]
    description: str

    def passage_operands(self) -> list[int]:
        """The indexes (into the passages the plan was made from) of the sentences its operands
        came from, each once, in expression order: what an answer stating the figure cites."""
        out: list[int] = []
        for fact in self.facts:
            if fact.origin == "passage" and fact.passage_index is not None and fact.passage_index not in out:
                out.append(fact.passage_index)
        return out


# --- lexicon --------------------------------------------------------------------------------

_LEXICON = lexicon()  # unit words (misheard forms included), symbols, count units: kb/data/lexicon.json
_WORD_UNITS = dict(_LEXICON.word_units)
_SYMBOL_UNITS = dict(_LEXICON.symbols)
_DENOMINATOR_ONLY = {"s": "s", "h": "hour"}  # too ambiguous after a bare number ("1990s")
_COUNT = set(_LEXICON.count_units)
_TIME_UNITS = {"ms", "s", "minute", "hour", "day", "week", "month", "year"}
_SCALES = scale_words()  # "million", "bn", ... (the lexicon's, through kb.numbers)

_GROWTH_WORDS = {"doubl": 2, "tripl": 3, "quadrupl": 4}


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


# --- planning --------------------------------------------------------------------------------

# Words that say how a figure is asked for or what it is measured in, not what it is about (on top
# of the tokenizer's stop words): measure words (terawatt, dollars, years) and document words go;
# count nouns (GPU, human, token) stay.
_NOT_TOPIC = (
    *"according around based each every figure least less made make number off per roughly use used using".split(),
    *_LEXICON.document_words, *(w for w, u in _WORD_UNITS.items() if u not in _COUNT),
    *(s.lower() for s in _SYMBOL_UNITS), *_SCALES,
)


def _words(text: str) -> frozenset[str]:
    """Content words (stemmed) for matching a fact's context to the question."""
    return content_words(text, _NOT_TOPIC)


@dataclass(frozen=True)
class _Cand:
    """A fact with what the planner needs to weigh it: its kind, span and surrounding words."""

    fact: Fact
    kind: str  # "quantity" | "rate" | "fraction" | "multiplier" | "number" | "bridge"
    article: bool
    start: int  # span in the question (question facts) or in the sentence
    end: int
    rank: int  # order of discovery: question first, then passages in retrieval order
    context: frozenset[str] = frozenset()  # content words of the fact's sentence and the two before it
    near: frozenset[str] = frozenset()  # content words of the fact's own sentence


def _weights(cands: Sequence[_Cand]) -> dict[str, float]:
    """1 / (number of passage facts whose context has the word): rare words say more."""
    counts: dict[str, int] = {}
    for c in cands:
        for w in c.context:
            counts[w] = counts.get(w, 0) + 1
    return {w: 1.0 / n for w, n in counts.items()}


def _relevance(words: frozenset[str], cand: _Cand, weights: dict[str, float]) -> float:
    """Weighted overlap of `words` with the fact's context; words of its own sentence count double."""
    return round(sum(weights.get(w, 0.0) * (2 if w in cand.near else 1) for w in words & cand.context), 6)


def _question_cands(question: str) -> list[_Cand]:
    return [
        _Cand(Fact(r.text(question), r.value, r.unit or "", "question", None, None), r.kind, r.article, r.start, r.end, i)
        for i, r in enumerate(_implied_counts(question, _extract(question)))
    ]


_EACH = re.compile(r"\s*(?i:each|apiece|a\s+piece)\b")


# "what do a million cost?", "and for 3 million?": a bare number that stands for the counted thing.
# Not "2 racks" (another noun), "the 3 largest labs", "cluster 7" or "in 2030".
_BARE_BEFORE = re.compile(r"(?:^|\b(?i:do|does|did|would|will|could|can|for|of|to|and|about|with|buy|buying|get|need))\s*$")
_BARE_AFTER = re.compile(r"^\s*(?:[?.,!;]|$|(?i:cost|costs|need|needs|draw|draws|use|uses|take|takes|require|requires|"
                         r"consume|consumes|be|is|are|would|will|run|runs)\b)")


def _counts_it(question: str, r: _Raw) -> bool:
    year = r.scale == 1.0 and float(r.value).is_integer() and 1500 <= r.value <= 2100
    return not year and bool(_BARE_BEFORE.search(question[:r.start])) and bool(_BARE_AFTER.match(question[r.end:]))


def _implied_counts(question: str, raws: list[_Raw]) -> list[_Raw]:
    """What a question leaves to its one counted thing (a count unit it names, "GPUs"): "at 2 kW
    each" is 2 kW per GPU, and after "each GPU costs $30,000", "a million" is a million GPUs."""
    counted = {u for u in (_lex(m.group(0)) for m in re.finditer(_UNIT, question)) if u in _COUNT}
    if len(counted) != 1:
        return raws
    (count,) = counted
    out = []
    for r in raws:
        each = _EACH.match(question, r.end) if r.kind == "quantity" and r.unit not in (None, "", count, "%") else None
        if each:
            r = _Raw(r.start, each.end(), r.value, f"{r.unit}/{count}", "rate")
        out.append(r)
    per_count = any(r.kind == "rate" and r.unit and r.unit.endswith(f"/{count}") for r in out)
    numbers = [r for r in out if r.kind == "number" and not r.article and _counts_it(question, r)]
    if per_count and len(numbers) == 1 and not any(r.kind == "quantity" and r.unit == count for r in out):
        n = numbers[0]
        out[out.index(n)] = _Raw(n.start, n.end, n.value, count, "quantity", scale=n.scale)
    return out


def _passage_cands(passages: Sequence[str], question: str, first_rank: int, limit: int = 24) -> list[_Cand]:
    """Quantities, rates and shares of the passages; a repeated figure keeps its best-matching occurrence."""
    asked = _words(question)
    best: dict[tuple[str, float, str], _Cand] = {}
    order: list[tuple[str, float, str]] = []
    for p_index, passage in enumerate(passages):
        sentences = _sentences(passage)
        for s_index, sentence in enumerate(sentences):
            if is_question(sentence) and not is_tag_question(sentence):
                continue  # a question asserts nothing, so it can be no cited operand (agent.citations)
            context = _words(" ".join(sentences[max(0, s_index - 2):s_index + 1]))
            near = _words(sentence)
            for r in _extract(sentence):
                if r.article or r.kind not in ("quantity", "rate", "fraction"):
                    continue
                key = (r.kind, round(r.value, 9), r.unit or "")
                fact = Fact(r.text(sentence), r.value, r.unit or "", "passage", p_index, _excerpt(sentence, r.start, r.end))
                if key not in best:
                    if len(order) >= limit:
                        continue
                    order.append(key)
                elif len(asked & context) + len(asked & near) <= len(asked & best[key].context) + len(asked & best[key].near):
                    continue
                rank = best[key].rank if key in best else first_rank + len(order) - 1
                best[key] = _Cand(fact, r.kind, False, r.start, r.end, rank, context, near)
    return [best[k] for k in order]


def _passage_growth(passages: Sequence[str], question: str) -> _Cand | None:
    """'tripled compute year-over-year' in a passage, for 'by what factor did it grow?'."""
    asked = _words(question)
    found: list[_Cand] = []
    for p_index, passage in enumerate(passages):
        sentences = _sentences(passage)
        for s_index, sentence in enumerate(sentences):
            for m in _GROWTH.finditer(sentence):
                if not m.group("word"):
                    continue
                fact = Fact(m.group(0), float(_GROWTH_WORDS[m.group("word").lower()]), "", "passage", p_index,
                            _excerpt(sentence, m.start(), m.end()))
                context = _words(" ".join(sentences[max(0, s_index - 2):s_index + 1]))
                found.append(_Cand(fact, "multiplier", False, m.start(), m.end(), len(found), context, _words(sentence)))
    return max(found, key=lambda c: (len(asked & c.context), -c.rank), default=None)


def _unit_in(pattern: str, question: str) -> str | None:
    m = re.search(pattern, question)
    if not m:
        return None
    unit = _lex(m.group("u")) if m.groupdict().get("u") else None
    den = _lex(m.group("d")) if m.groupdict().get("d") else None
    if unit and den and den != unit:
        return f"{unit}/{den}"
    return unit


_PER_UNIT_COST = (
    rf"\b(?i:what|how\s+much)\s+(?i:does|do|would|will|did)\s+(?i:one|an?|each|every|a\s+single)\s+(?:(?P<u>{_UNIT})\s+)?(?i:cost)\b",
    rf"\b(?i:cost|price)\s+(?i:per|of\s+(?:one|an?|each|a\s+single))\s+(?P<u>{_ANY_UNIT})",
    rf"\b(?i:per)[-\s](?P<u>{_UNIT})\s+(?i:cost|price)\b",
)
_HOW_MANY = (rf"\b(?i:how\s+many)\s+(?:{_SCALE}s?\s+(?i:of\s+)?)?(?P<u>{_UNIT})(?:\s+(?i:of)\s+[A-Za-z]+)?"
             rf"(?:\s*(?:(?i:per|an?|each|every)\s+|/\s*)(?P<d>{_ANY_UNIT}))?")
_IN_UNIT = rf"(?:,|\b(?i:in))\s*(?i:in\s+)?(?P<u>{_ANY_UNIT})(?:\s*(?:(?i:per)\s+|/\s*)(?P<d>{_ANY_UNIT}))?\s*[?.!]*\s*$"
_COST = r"\b(?i:costs?|spend(?:ing)?|price[sd]?|capex|how\s+much\s+money|how\s+expensive|dollars?|budget)\b"
_PER_TIME = rf"\b(?i:per)\s+(?P<d>{_ANY_UNIT})|/\s*(?P<d2>{_ANY_UNIT})"
_POWER = r"\b(?i:how\s+much\s+(?:power|electricity|capacity|energy))\b"
_NAMED_RATE = re.compile(
    rf"(?P<u>{_UNIT}|\b(?i:cost|price|spend|dollars?))(?:\s+(?i:count|number))?[\s-]+(?i:per)[\s-]+(?P<d>{_ANY_UNIT})"
    rf"|\b(?i:how\s+many)\s+(?P<u2>{_UNIT})\s+(?i:is|are|make\s+up|fit\s+in|go\s+into|in)\s+(?i:an?|one|each)\s+(?P<d2>{_UNIT})"
)


def _target(question: str, cands: list[_Cand]) -> str | None:
    """The unit the question asks for, as a calculator unit string (`GW`, `USD/GPU`, `token/s`), or None."""
    how_many = _unit_in(_HOW_MANY, question)
    for pattern in _PER_UNIT_COST:
        m = re.search(pattern, question)
        if m and re.search(r"\b(?i:at|using|with|based\s+on|from|given)\b[^,?;]*$", question[:m.start()]):
            continue  # "..., at the speaker's cost per rack": a rate to use, not the one asked for
        if m:
            per = _lex(m.group("u")) if m.group("u") else None
            if per is None:
                named = how_many.split("/")[0] if how_many else None
                per = named if named in _COUNT else next(
                    (_lex(u.group(0)) for u in re.finditer(_UNIT, question) if _lex(u.group(0)) in _COUNT), None)
            return f"USD/{per}" if per and per != "USD" else "USD"
    explicit = _unit_in(_IN_UNIT, question)
    if explicit:
        return explicit
    if how_many:
        return how_many
    if re.search(_COST, question):
        return "USD"
    m = re.search(_PER_TIME, question)
    if m:
        den = _lex(m.group("d") or m.group("d2") or "")
        top = next((c.fact.unit for c in cands if c.fact.origin == "question" and c.kind == "quantity"
                    and c.fact.unit not in _TIME_UNITS and "/" not in c.fact.unit and not c.article), None)
        if den in _TIME_UNITS and top:
            return f"{top}/{den}"
    return None


def _named_rates(question: str, cands: list[_Cand]) -> list[str]:
    """Rates the question names without a number: "at the speaker's servers per rack", "how many servers
    is a rack" -> ["server/rack"]; a plan that uses them is preferred."""
    stated = [c for c in cands if c.kind in ("quantity", "rate") and not c.article]
    out = []
    for m in _NAMED_RATE.finditer(question):
        if any(c.start < m.end() and m.start() < c.end for c in stated):
            continue
        surface = m.group("u") or m.group("u2")
        top = "USD" if surface.lower() in ("cost", "price", "spend", "dollar", "dollars") else _lex(surface)
        den = _lex(m.group("d") or m.group("d2"))
        if top and den and top != den:
            out.append(f"{top}/{den}")
    return out


@lru_cache(maxsize=512)
def _dims(unit: str) -> tuple[tuple[str, float], ...]:
    return tuple(sorted((k, v) for k, v in unit_dimensions(unit).items() if v))


def _combine(parts: Sequence[tuple[tuple[tuple[str, float], ...], int]]) -> tuple[tuple[str, float], ...]:
    total: dict[str, float] = {}
    for dims, sign in parts:
        for k, v in dims:
            total[k] = total.get(k, 0.0) + sign * v
    return tuple(sorted((k, v) for k, v in total.items() if abs(v) > 1e-9))


def _same_unit(a: str, b: str) -> bool:
    try:
        return calculate(f"1 {a}", to=b).value == 1
    except CalcError:
        return False


def _number(value: float) -> str:
    """Compact, exact number text for expressions: 70e9, 400e3, 0.2, 6."""
    if value == int(value) and abs(value) >= 1000:
        n, zeros = int(value), 0
        while n % 10 == 0:
            n //= 10
            zeros += 1
        e3 = zeros - zeros % 3
        return f"{int(value) // 10 ** e3}e{e3}" if e3 else str(int(value))
    return f"{value:.12g}"


def _fragment(fact: Fact, alone: bool = False) -> str:
    body = f"{_number(fact.value)} {fact.unit}".strip() if fact.unit else _number(fact.value)
    return body if alone or not fact.unit else f"({body})"


def _source(fact: Fact) -> str:
    return "question" if fact.origin == "question" else f"passage {(fact.passage_index or 0) + 1}"


def _build(parts: Sequence[tuple[Fact, int]], to: str | None, why: str) -> Plan:
    pos = [f for f, s in parts if s > 0]
    neg = [f for f, s in parts if s < 0]
    alone = len(parts) == 1 and not neg
    expression = " * ".join(_fragment(f, alone) for f in pos) or "1"
    for f in neg:
        expression += f" / {_fragment(f)}"
    return Plan(expression, to, tuple(pos + neg), f"{why}: {_describe(parts)}" + (f" → {to}" if to else ""))


def _describe(parts: Sequence[tuple[Fact, int]]) -> str:
    described = " × ".join(f"'{f.text}' ({_source(f)})" for f, s in parts if s > 0) or "1"
    for f, s in parts:
        if s < 0:
            described += f" ÷ '{f.text}' ({_source(f)})"
    return described


def _search(target: str, cands: list[_Cand], named: Sequence[str], asked: frozenset[str]) -> list[tuple[_Cand, int]] | None:
    """The best product/quotient of facts with the target's dimensions (see the module docstring)."""
    want = _dims(target)
    weights = _weights([c for c in cands if c.fact.origin == "passage"])
    implied = {_dims(c.fact.unit) for c in cands if c.article and c.fact.unit}  # "a terawatt" in the question

    def bare_figure_fits(c: _Cand) -> bool:
        """A bare passage figure stands in for a quantity the question names in words ("the lab's
        target" -> "the 30 terawatt number ... the target"): its own sentence must share a word
        with the question (a word that is not a unit's), and the question must not fix it ("a terawatt")."""
        shared = {w for w in asked & c.near if _lex(w) is None}  # "GPUs" alone is the unit, not the thing
        return bool(shared) and _dims(c.fact.unit) not in implied

    usable = [c for c in cands if c.kind in ("quantity", "rate") and not c.article and c.fact.unit
              and (c.fact.origin == "question" or c.kind != "quantity" or bare_figure_fits(c))]
    dims = [_dims(c.fact.unit) for c in usable]
    named_dims = [_dims(n) for n in named]
    required = {i for i, c in enumerate(usable) if c.fact.origin == "question"}
    best: tuple | None = None
    best_combo: list[tuple[_Cand, int]] | None = None
    for size in range(1, min(3, len(usable)) + 1):
        for combo in itertools.combinations(range(len(usable)), size):
            chosen = [usable[i] for i in combo]
            if len({dims[i] for i in combo}) < size:
                continue  # two facts of one kind: the same figure twice, or a pair that only cancels
            bare = [c for c in chosen if c.fact.origin == "passage" and c.kind == "quantity"]
            plain = len(bare)
            if plain > 1 and len({c.fact.sentence for c in bare}) > 1:
                continue  # bare figures of different sentences rarely belong together; of one ("N in M") they do
            for signs in itertools.product((1, -1), repeat=size):
                if size == 1 and signs[0] > 0 and chosen[0].fact.origin == "passage":
                    continue  # a figure quoted as it stands is a lookup, not a computation
                if _combine([(dims[i], s) for i, s in zip(combo, signs)]) != want:
                    continue
                if size == 3 and any(not _combine([(dims[combo[a]], signs[a]), (dims[combo[b]], signs[b])])
                                     for a, b in itertools.combinations(range(3), 2)):
                    continue  # two rates that cancel (GPU/kW x kW/GPU): the third figure only, dressed up
                key = (
                    len(required - set(combo)),
                    sum(1 for n in named_dims if not any(dims[i] == n for i in combo)),
                    plain,
                    sum(1 for c in chosen if c.fact.origin == "passage"),
                    size,
                    sum(1 for s in signs if s < 0),
                    -sum(_relevance(asked, c, weights) for c in chosen),
                    sorted(c.rank for c in chosen),
                    signs,
                )
                if best is None or key < best:
                    best, best_combo = key, [(usable[i], s) for i, s in zip(combo, signs)]
    return best_combo


_GROWTH = re.compile(
    r"\b(?i:(?P<word>doubl|tripl|quadrupl)(?:e|es|ed|ing)\b)"
    r"|(?P<n>(?<![\w.])\d+(?:\.\d+)?)\s*(?:x|×|-?fold)(?![A-Za-z0-9])"
)
_GROWTH_ASKED = re.compile(r"\b(?i:grew|grow|grows|growing|growth|factor|increased?|multiplied)\b")
_PERIOD = re.compile(
    rf"\b(?i:(?:every|each|per|an?|in\s+an?)\s+(?:(?P<pn>\d+(?:\.\d+)?|{_WORDNUM})\s+)?(?P<pu>year|month|week|day)s?"
    r"|(?P<yoy>year[-\s]over[-\s]year|yoy|annually|yearly|per\s+annum))\b"
)
_DURATION = re.compile(
    rf"\b(?i:(?:for|over|in|after|across|within)\s+(?:the\s+(?:next|last|past|coming)\s+|the\s+|another\s+|a\s+further\s+)?"
    rf"(?P<dn>\d+(?:\.\d+)?|{_WORDNUM})\s+(?:more\s+)?(?P<du>year|month|week|day)s?)\b"
)


def _word_or_number(text: str) -> float:
    return float(NUMBER_WORDS[text.lower()]) if text.lower() in NUMBER_WORDS else to_float(text)


def _growth_plan(question: str, cands: list[_Cand], passages: Sequence[str]) -> Plan | None:
    """'tripling every year for 3 years' -> 3**3; the growth word may come from a passage."""
    d = _DURATION.search(question)
    if not d:
        return None
    g = _GROWTH.search(question)
    if g:
        word = g.group("word")
        growth = Fact(g.group(0), float(_GROWTH_WORDS[word.lower()]) if word else to_float(g.group("n")), "",
                      "question", None, None)
    elif _GROWTH_ASKED.search(question) and (found := _passage_growth(passages, question)) is not None:
        growth = found.fact
    else:
        return None
    factor = growth.value
    p = _PERIOD.search(question)
    period_n = _word_or_number(p.group("pn")) if p and p.group("pn") else 1.0
    period_u = (p.group("pu").lower() if p and p.group("pu") else "year")
    dur_n, dur_u = _word_or_number(d.group("dn")), d.group("du").lower()
    duration = Fact(d.group(0), dur_n, dur_u, "question", None, None)
    if dur_u == period_u:
        expr = f"{_number(factor)}**{_number(dur_n / period_n)}"
    else:
        expr = f"{_number(factor)}**(({_number(dur_n)} {dur_u}) / ({_number(period_n)} {period_u}))"
    assumed = "" if p else " (one step per year assumed)"
    facts: tuple[Fact, ...] = (growth, duration)
    base = [c for c in cands if c.kind in ("quantity", "rate") and not c.article and c.fact.unit
            and c.fact.unit not in _TIME_UNITS and not (d.start() <= c.start < d.end())]
    to = None
    if len(base) == 1:
        expr = f"{_fragment(base[0].fact)} * {expr}"
        facts = (base[0].fact, *facts)
        to = base[0].fact.unit
    every = f"{_number(period_n)} {period_u}s" if period_n != 1 else period_u
    why = f"Growth: ×{_number(factor)} every {every} for {_number(dur_n)} {dur_u}{'s' if dur_n != 1 else ''}{assumed}"
    return Plan(expr, to, facts, f"{why}: '{growth.text}' ({_source(growth)})")


_RATIO_KEY = re.compile(
    r"\b(?i:(?:what|which)\s+(?:fraction|percent(?:age)?|share|proportion|part|portion)\s+of"
    r"|(?:is|are|was)\s+what\s+(?:fraction|percent(?:age)?|share|proportion|part|portion)\s+of"
    r"|as\s+an?\s+(?:fraction|percent(?:age)?|share|proportion)\s+of|out\s+of)\s+(?i:the\s+)?"
)


def _ratio_plan(question: str, cands: list[_Cand]) -> Plan | None:
    """'what fraction of 80 GW is 6 GW' -> 6 GW / 80 GW in %."""
    dimensional = [c for c in cands if c.kind == "quantity" and not c.article and c.fact.unit]
    for m in _RATIO_KEY.finditer(question):
        whole = next((c for c in dimensional if c.start == m.end()), None)
        if whole is None:
            continue
        part = next((c for c in dimensional if c is not whole and _dims(c.fact.unit) == _dims(whole.fact.unit)), None)
        if part is None:
            continue
        return _build([(part.fact, 1), (whole.fact, -1)], "%", "Share of the whole")
    return None


_RATIO_PHRASES = (
    (re.compile(r"\b(?i:what\s+(?:percentage|percent|fraction|share|proportion)\s+of)\s+(?P<whole>.+?)\s+"
                r"(?i:would|does|do|did|is|are|was|will|could)\s+(?P<part>.+?)"
                r"(?:\s+(?i:make\s+up|represent|account\s+for|be|amount\s+to))?\s*[?.!]*\s*$"), "%"),
    (re.compile(r"^(?i:(?:what|how\s+much)\s+(?:was|is|were|are|would\s+be)\s+)?(?P<part>.+?)\s+"
                r"(?i:as\s+an?\s+(?:percentage|percent|fraction|share|proportion)\s+of)\s+(?P<whole>.+?)\s*[?.!]*\s*$"), "%"),
    # "how many times larger is A than B", "how many times more hours went into A than into B"
    (re.compile(r"\b(?i:how\s+many\s+times\s+(?:larger|bigger|greater|more|higher|longer))\s+"
                r"(?:(?i:is|are|was|were|would\s+be)\s+)?"
                r"(?P<part>.+?)\s+(?i:than|compared\s+(?:to|with))\s+(?P<whole>.+?)\s*[?.!]*\s*$"), ""),
)


def _phrase_ratio_plan(question: str, qcands: list[_Cand], pcands: list[_Cand]) -> Plan | None:
    """'A as a percentage of B' / 'how many times larger is A than B', A and B named in words.

    A phrase holding a number of the question uses it; otherwise the passage quantity whose
    context shares the most words with the phrase fills it. Both sides need the same dimensions.
    """
    stated = [c for c in qcands if c.kind == "quantity" and not c.article and c.fact.unit]
    figures = [c for c in pcands if c.kind == "quantity"]
    weights = _weights(pcands)
    for pattern, to in _RATIO_PHRASES:
        m = pattern.search(question)
        if not m:
            continue
        options = []
        for slot in ("part", "whole"):
            inside = [c for c in stated if m.start(slot) <= c.start < m.end(slot)]
            words = _words(m.group(slot))
            options.append([(c, 100.0) for c in inside[:1]] or
                           [(c, _relevance(words, c, weights)) for c in figures if words & c.context])
        unnamed = 1 if options[0] and not options[1] else 0 if options[1] and not options[0] else None
        if not to and unnamed is not None and _words(m.group(("part", "whole")[unnamed])) <= _BACK_REFERENCE:
            # "…than the smaller one": a side named by no words of its own is the other figure of
            # the sentence that holds the named side's ("a town (20k people) or a city (3M people)?")
            named = [c for c, _ in options[0] or options[1]]
            others = [(c, 0.0) for c in figures if any(c is not n and c.fact.sentence == n.fact.sentence
                                                        and _dims(c.fact.unit) == _dims(n.fact.unit) for n in named)]
            options = [options[0] or others, options[1] or others]
        pairs = []
        for p, sp in options[0]:
            for w, sw in options[1]:
                if p is w or _dims(p.fact.unit) != _dims(w.fact.unit):
                    continue
                try:
                    ratio = calculate(f"{_fragment(p.fact)} / {_fragment(w.fact)}").value
                except CalcError:
                    continue
                if ratio == 1:
                    continue
                if not to and ratio < 1:
                    continue  # "how many times more A than B" is above 1: the figures read are not A and B
                fits = ratio < 1 if to else True  # a share is usually below 100%: the tie-breaker after relevance
                pairs.append((round(sp + sw, 6), fits, -p.rank - w.rank, p, w))
        why = "Ratio" if not to else "Share of the whole"
        if pairs:
            *_, part, whole = max(pairs, key=lambda t: t[:3])
            return _build([(part.fact, 1), (whole.fact, -1)], to or None, why)
    return None



# "…than the smaller one", "…than the other": a side that only points back at a figure already named
_BACK_REFERENCE = content_words("smaller larger bigger greater lower higher fewer less other others one ones "
                                "former latter second first option options alternative alternatives rest")

_SHARE_NAMED = re.compile(r"\b(?i:share|percentage|percent|fraction|proportion|portion)\b")


def _applied_share_plan(question: str, qcands: list[_Cand], pcands: list[_Cand], target: str | None) -> Plan | None:
    """'the author's expected export share applied to 12 MW' -> the passage percentage (or fraction)
    whose sentence best matches the words naming the share, times the question's one quantity."""
    cue = _SHARE_NAMED.search(question)
    if cue is None or any(c.fact.unit == "%" or c.kind == "fraction" for c in qcands):
        return None
    stated = [c for c in qcands if c.kind in ("quantity", "rate") and not c.article and c.fact.unit]
    if len(stated) != 1 or (target is not None and _dims(target) != _dims(stated[0].fact.unit)):
        return None
    naming = _words(" ".join(question[:cue.start()].split()[-3:]))  # "predicted export [share]"
    shares = [c for c in pcands if (c.fact.unit == "%" or c.kind == "fraction") and 0 < c.fact.value]
    weights = _weights(pcands)
    scored = [(_relevance(naming, c, weights), -c.rank, c) for c in shares if naming & c.near]
    if not scored:
        return None
    share = max(scored, key=lambda t: t[:2])[2]
    whole = stated[0]
    return _build([(share.fact, 1), (whole.fact, 1)], target or whole.fact.unit, "Share of a quantity")


_WHOLE_ASKED = re.compile(
    r"\b(?i:how\s+(?:big|large|much)|what(?:'s|\s+is|\s+would\s+be)\s+(?:the\s+)?(?:size|total|whole|full|entire)"
    r"|total|entire|whole)\b"
)
_PART_COPULA = re.compile(
    r"^\s*(?i:is|are|was|were|would\s+be|represents?|makes?\s+up|equals?|accounts?\s+for)\b(?:\s+[A-Za-z]+){0,2}\s*$"
)


def _fraction_plan(question: str, cands: list[_Cand], target: str | None) -> Plan | None:
    """'if 100 GW is a fifth of the grid, how big is the grid' -> 100 GW / 0.2; 'a fifth of 100 GW' -> product."""
    quantities = [c for c in cands if c.kind in ("quantity", "rate") and not c.article and c.fact.unit]
    for f in (c for c in cands if c.kind == "fraction"):
        of = re.match(r"\s+(?:[A-Za-z]+\s+){0,2}?(?i:of)\s+(?:(?i:the|all)\s+)?", question[f.end:])
        if not of:
            continue
        after = f.end + of.end()
        whole = next((c for c in quantities if c.start == after), None)
        if whole is not None:
            if target and _dims(target) != _dims(whole.fact.unit):
                continue
            return _build([(f.fact, 1), (whole.fact, 1)], target or whole.fact.unit, "Part of a quantity")
        before = [c for c in quantities if c.end <= f.start and _PART_COPULA.match(question[c.end:f.start])]
        if before and _WHOLE_ASKED.search(question[f.end:]):
            part = before[-1]
            to = target if target and _dims(target) == _dims(part.fact.unit) else part.fact.unit
            return _build([(part.fact, 1), (f.fact, -1)], to, "Whole from a part and its share")
    return None


_POWER_NOTATION = re.compile(r"\d\s*(?:\*\*|\^)\s*[-+]?\d|\d\s*[eE]\s*[-+]?\d+\s*[A-Za-z]")
_ADJUST = re.compile(
    r"(?i:\b(?P<down>minus|less|lower|cheaper|fewer|off|discount(?:ed)?|reduced\s+by|down\s+by|cut\s+by)"
    r"|\b(?P<up>plus|more|higher|extra|increased\s+by|up\s+by|raised\s+by|on\s+top))\s*$"
)


def _adjustment(question: str, c: _Cand) -> tuple[str, str] | None:
    """A percentage of the question that changes another figure: "minus 10%" -> ("0.9", "minus 10%")."""
    if c.fact.unit != "%" and c.kind != "fraction":
        return None
    after = question[c.end:c.end + 24]
    before = question[max(0, c.start - 24):c.start]
    m = _ADJUST.search(before)
    share = c.fact.value / 100 if c.fact.unit == "%" else c.fact.value
    if m is None:
        tail = re.match(r"\s*(?i:(?P<down>less|lower|cheaper|fewer|off|smaller)|(?P<up>more|higher|larger|bigger))\b", after)
        m = tail
    if m is None:
        return None
    factor = 1 - share if m.group("down") else 1 + share
    return f"{factor:.12g}", c.fact.text


def _unread_numbers(question: str, qcands: Sequence[_Cand]) -> bool:
    """Digits the reader did not take in (a power such as 10**400, a stray number): nothing is planned."""
    if _POWER_NOTATION.search(question):
        return True
    spans = [(c.start, c.end) for c in qcands]
    for m in re.finditer(r"(?<![A-Za-z0-9])(?<![A-Za-z]-)\d+(?:[.,]\d+)*", question):  # not a name's: "V3", "A100", "GPT-4"
        if not any(s <= m.start() and m.end() <= e for s, e in spans):
            if not re.fullmatch(r"(?:19|20)\d\d", m.group(0)):  # a year names a time, it is not an operand
                return True
    return False


def _is_year(f: Fact) -> bool:
    return not f.unit and f.value == int(f.value) and 1900 <= f.value <= 2100 and re.fullmatch(r"\d{4}", f.text) is not None


def _operands_ok(found: Plan, qcands: Sequence[_Cand], adjusted: Sequence[_Cand]) -> bool:
    """Every figure of the question is used, each fact once, and the plan evaluates in its unit."""
    stated = [c for c in qcands if not c.article and not _is_year(c.fact)]
    used = list(found.facts)
    if any(not any(c.fact == f or (c.fact.value, c.fact.unit) == (f.value, f.unit) for f in used)
           for c in stated if c not in adjusted):
        return False
    if len(set(used)) < len(used) or len({(f.value, f.unit) for f in used}) < len(used):
        return False
    try:
        calculate(found.expression, to=found.to)
    except CalcError:
        return False
    return True


def _with_adjustments(found: Plan, adjustments: Sequence[tuple[str, str]]) -> Plan:
    if not adjustments:
        return found
    factors = " * ".join(f for f, _ in adjustments)
    said = ", ".join(t for _, t in adjustments)
    return Plan(f"({found.expression}) * {factors}", found.to, found.facts, f"{found.description}, {said}")


def plan(question: str, passages: Sequence[str] = ()) -> Plan | None:
    """One calculate() expression (with target unit and the facts used) answering `question`, or None.

    A plan is returned only when every figure the question states is used, no fact is used twice
    and the units work out; otherwise None, and the answer gives sentences instead of a number.
    """
    qcands = _question_cands(question)
    if _unread_numbers(question, qcands):
        return None
    found = _growth_plan(question, qcands, passages) or _ratio_plan(question, qcands)
    target = _target(question, qcands)
    # power asked in no unit: searched by its dimension, shown in the unit that reads best (calculate)
    searched = "W" if target is None and re.search(_POWER, question) else target
    adjusted: list[_Cand] = []
    adjustments: list[tuple[str, str]] = []
    if found is None:
        found = _fraction_plan(question, qcands, target)
    if found is None:
        for c in qcands:
            adj = _adjustment(question, c)
            if adj:
                adjusted.append(c)
                adjustments.append(adj)
        rest = [c for c in qcands if c not in adjusted]
        pcands = [c for c in _passage_cands(passages, question, first_rank=len(qcands))
                  if not any((c.fact.value, c.fact.unit) == (q.fact.value, q.fact.unit) for q in rest)]
        found = _phrase_ratio_plan(question, rest, pcands)
        if found is None and not adjustments:
            found = _applied_share_plan(question, rest, pcands, target)
        if found is None and searched is not None:
            combo = _search(searched, rest + pcands, _named_rates(question, rest), _words(question))
            if combo is None or (len(combo) == 1 and combo[0][1] > 0 and not adjustments
                                 and (target is None or _same_unit(combo[0][0].fact.unit, target))):
                return None  # "30 GW" answered with 30 GW: nothing was computed
            found = _build([(c.fact, s) for c, s in combo], target, f"Dimensional analysis for {target or 'power'}")
    if found is None or not _operands_ok(found, qcands, adjusted):
        return None
    return _with_adjustments(found, adjustments)


# --- is this a computation question? -----------------------------------------------------------

_COMPUTE_CUE = re.compile(
    r"\b(?i:how\s+(?:many|much|big|large|long|fast)|costs?|spend|price|fraction|percent(?:age)?|share|proportion"
    r"|per|times|total|altogether|combined|doubl\w*|tripl\w*|quadrupl\w*|grow\w*|rate|throughput|convert\w*"
    r"|calculate|work\s+out|estimate|multipl\w*|divid\w*|\d+\s*x)\b|[×*]|%\s+of\b"
)
_STRONG_CUE = re.compile(
    r"\b(?i:using\s+(?:the\s+)?(?:[\w-]+(?:'s|’s|s')?\s+){0,2}(?:figures|numbers|estimates?)"
    r"|(?:what|how\s+much)\s+(?:does|do|would|will)\s+(?:one|each|an?|a\s+single)\s+(?:\w+\s+)?cost"
    r"|calculate|work\s+out|cost\s+per\s+(?:gpu|token|person)|per[-\s](?:gpu|token|person)\s+cost"
    r"|impl(?:y|ies|ied)|by\s+what\s+factor|how\s+many\s+times|as\s+an?\s+(?:percentage|percent|fraction|share)\s+of"
    r"|what\s+(?:percentage|percent|fraction|share)\s+of\b.*\b(?:would|make\s+up|represent|account\s+for)"
    r"|at\s+the\s+[\w\s'’-]*?\bper\s+\w+|based\s+on\b.*\bper\s+\w+)\b"
)
_LOOKUP_CUE = re.compile(
    r"\b(?i:say|says|said|mention\w*|describe\w*|claim\w*|quote\w*|according|why|who|when|where)\b"
)


def needs_figures(question: str) -> bool:
    """True for computation questions ("what do 6 GW cost at $70B/GW?"), False for plain lookups."""
    if _STRONG_CUE.search(question):
        return True
    has_number = any(not r.article for r in _extract(question))
    if not has_number:
        return False
    if _GROWTH.search(question) and _DURATION.search(question):
        return True
    if not _COMPUTE_CUE.search(question):
        return False
    strong_ask = re.search(r"\b(?i:how\s+(?:many|much|big|large)|what\s+(?:fraction|percent))", question)
    return not (_LOOKUP_CUE.search(question) and not strong_ask)
