"""The figures table: every quantity the episode states, with what it measures, what it is about,
its second and its sentence; figures of the same kind are listed together.

Quantities come from `kb.quantities.extract_quantities`. "A tonne costs $700" states a rate: a
quantity of one ("a litre", "per server") is the denominator of the others in its sentence, so the
figure measures "currency per tonne". Figures group by that measure (all per-tonne prices
together, all server-hour counts together), groups in the order they first appear.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from agent.brief.text import clean_quote
from kb.quantities import Quantity, extract_quantities
from kb.tokens import STOPWORDS
from kb.types import Sentence

MAX_FIGURES = 40
_DENOMINATOR = re.compile(r"^(?:a|an|one|per|each|every)\b", re.I)
_AFTER = re.compile(r"^\s*(?:of|for|in|on)\s+((?:[\w'-]+\s*){1,4})")
_SCALE_WORD = re.compile(r"\b(?:thousand|million|billion|trillion)\b|\d[kKmMbB]\b", re.I)


@dataclass(frozen=True)
class Figure:
    sentence: int
    seconds: float | None
    quantity: Quantity
    what: str
    about: str
    quote: str


def is_denominator(q: Quantity) -> bool:
    """"a terawatt", "one GPU", "per hour": a unit amount that others in the sentence are per."""
    return q.value == 1 and bool(q.unit) and bool(_DENOMINATOR.match(q.text))


def worth_listing(q: Quantity) -> bool:
    """A figure with a unit, a percentage, or a large counted number — not a bare small number or a year."""
    if q.unit:
        return True
    if q.kind == "percentage":
        return True
    if q.value.is_integer() and 1900 <= q.value <= 2100 and not _SCALE_WORD.search(q.text):
        return False
    return q.value >= 1000 and bool(_SCALE_WORD.search(q.text) or q.qualifier)


def measure(q: Quantity, per: Quantity | None) -> str:
    """What a figure measures: "currency per terawatt", "count of GPU", "time (H800)"."""
    kind = q.kind if q.kind not in ("dimensionless", "unknown") else "amount"
    if q.kind == "count" and q.unit:
        kind = f"count of {q.unit}"
    if per is not None and per.unit != q.unit:
        kind += f" per {per.unit_name or per.unit}"
    return kind


def about(q: Quantity, sentence: str, names: Sequence[str]) -> str:
    """Who or what the figure is about: names in the sentence, else the words after it ("of compute")."""
    parts = []
    if q.qualifier:
        parts.append(q.qualifier)
    parts += [n for n in names if n in sentence and n not in parts and n.lower() not in q.unit.lower()]
    if parts:
        return ", ".join(parts[:3])
    m = _AFTER.match(sentence[q.span[1]:])
    if m:
        words = [w for w in m.group(1).split() if w.lower() not in STOPWORDS]
        if words:
            return " ".join(words[:3]).strip(",.;:")
    return ""


def _dedupe(found: list[Figure], window_s: float = 60.0) -> list[Figure]:
    """The same value and unit restated within a minute (or in the next sentences) is listed once."""
    out: list[Figure] = []
    for f in found:
        same = [g for g in out if g.quantity.value == f.quantity.value and g.quantity.unit == f.quantity.unit
                and g.what == f.what]
        if any((f.seconds is not None and g.seconds is not None and f.seconds - g.seconds <= window_s)
               or (f.seconds is None and f.sentence - g.sentence <= 3) or f.quote == g.quote for g in same):
            continue
        out.append(f)
    return out


def figures(sentences: Sequence[Sentence], names: Sequence[str] = ()) -> list[Figure]:
    """Every listable figure in the sentences, grouped by measure (groups in order of first
    appearance, figures in order within a group)."""
    found: list[Figure] = []
    for i, s in enumerate(sentences):
        qs = extract_quantities(s.text)
        if not qs:
            continue
        per = next((q for q in qs if is_denominator(q)), None)
        for q in qs:
            if q is per or not worth_listing(q):
                continue
            found.append(Figure(i, s.time_at(q.span[0]), q, measure(q, per), about(q, s.text, names), clean_quote(s.text)))
            if len(found) >= MAX_FIGURES * 2:
                break
    found = _dedupe(found)
    order: dict[str, int] = {}
    for f in found:
        order.setdefault(f.what, len(order))
    found.sort(key=lambda f: (order[f.what], f.sentence))
    return found[:MAX_FIGURES]
