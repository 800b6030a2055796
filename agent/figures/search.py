"""What unit the question asks for, and the dimensional search: the product or quotient of at most
a few candidate figures whose dimensions equal that unit, built into one calculate() expression.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from agent.calculator import CalcError, calculate, unit_dimensions
from agent.figures.candidates import _Cand, _relevance, _weights
from agent.figures.facts import _ANY_UNIT, _COUNT, _SCALE, _TIME_UNITS, _UNIT, Fact, _lex


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
