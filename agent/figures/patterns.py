"""Plans read from the question's wording before any search: growth over periods, shares and
ratios (in numbers or named in words), a share applied to a quantity, a fraction of a whole, and
the percentage adjustments ("minus 10%") applied to a result.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from agent.calculator import CalcError, calculate
from agent.figures.candidates import _Cand, _passage_growth, _relevance, _weights, _words
from agent.figures.facts import _GROWTH, _GROWTH_WORDS, _TIME_UNITS, _WORDNUM, Fact
from agent.figures.search import Plan, _build, _dims, _fragment, _number, _source
from kb.numbers import NUMBER_WORDS, to_float
from kb.tokens import content_words

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
