"""The figures a plan may use: the question's and the passages' facts, each with the words around
it, its rank and how well its context matches the question.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from agent.figures.facts import (
    _COUNT,
    _GROWTH,
    _GROWTH_WORDS,
    _LEXICON,
    _SCALES,
    _SYMBOL_UNITS,
    _UNIT,
    _WORD_UNITS,
    Fact,
    _excerpt,
    _extract,
    _lex,
    _Raw,
    _sentences,
)
from kb.asking import is_question, is_tag_question
from kb.tokens import content_words

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
