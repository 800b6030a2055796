"""`plan(question, passages)`: the one calculate() expression for a question, or None — the
wording's patterns first, then the dimensional search, checked so that every figure of the
question is used once and the units work out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from agent.calculator import CalcError, calculate
from agent.figures.candidates import _Cand, _passage_cands, _question_cands, _words
from agent.figures.facts import Fact
from agent.figures.patterns import (
    _adjustment,
    _applied_share_plan,
    _fraction_plan,
    _growth_plan,
    _phrase_ratio_plan,
    _ratio_plan,
)
from agent.figures.search import _POWER, Plan, _build, _named_rates, _same_unit, _search, _target

_POWER_NOTATION = re.compile(r"\d\s*(?:\*\*|\^)\s*[-+]?\d|\d\s*[eE]\s*[-+]?\d+\s*[A-Za-z]")



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


def _restated(read: Sequence[_Cand], stated: Sequence[_Cand]) -> tuple[list[_Cand], list[_Cand]]:
    """The passage figures the question does not state, and the ones it restates ("using the 2.5
    million hours figure, how many times more…"), each of those as the question's fact with the
    passage sentence's words around it, so that the side of a ratio the passage's words name can
    take it."""
    said: dict[tuple[float, str], _Cand] = {}
    for q in stated:
        said.setdefault((q.fact.value, q.fact.unit), q)
    new: list[_Cand] = []
    again: list[_Cand] = []
    for c in read:
        same = said.get((c.fact.value, c.fact.unit))
        if same is None:
            new.append(c)
        elif not any(o.fact is same.fact for o in again):
            again.append(replace(c, fact=same.fact))
    return new, again


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
        pcands, again = _restated(_passage_cands(passages, question, first_rank=len(qcands)), rest)
        found = _phrase_ratio_plan(question, rest, pcands + again)
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
