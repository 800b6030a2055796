"""Follow-up questions made standalone: "and how long does that take?" leans on the previous turn
for its topic, so the search for it carries that turn's content words too.

Used by the graph's retrieve-first step for every backend (the same rules as the offline model's
own rewriting, so its first search is the one it would have made). The words are general English
question words (agent.abstention.QUESTION_WORDS), not words of any one corpus.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from agent.abstention import QUESTION_WORDS
from kb.numbers import DIGITS, number_words_pattern
from kb.tokens import tokenize

_FOLLOWUP_START = re.compile(r"^(and|but|so|also|what about|how about|then|ok|okay)\b", re.IGNORECASE)
_PRONOUN = re.compile(r"\b(that|this|it|they|them|those|these|he|she|his|her|its|their|there|one|ones)\b", re.IGNORECASE)
# "How many would 10 GW be?": a quantity question whose counted thing is left out
_ELLIPTICAL = re.compile(r"^\s*how\s+(?:many|much)\s+(?:would|will|could|does|do|did|is|are|was|were|for|in)\b", re.IGNORECASE)
# "What would three of them cost?": a count of the thing the last turn named one of ("a kilowatt")
_COUNT = rf"(?:(?<![\w.]){DIGITS}|\b(?:{number_words_pattern()}))"
_FIGURE = re.compile(rf"(?<![\w.-])(?:{DIGITS})(?![\w-])|\b(?:{number_words_pattern()})\b", re.IGNORECASE)
_OF_THEM = re.compile(rf"({_COUNT})\s+of\s+(?:them|those|these)\b", re.IGNORECASE)
# "And what about 2 GW?", "And for 10,000 of them?", "And 8 kW?": the last question again, for other figures
_ABOUT = re.compile(r"^\s*(?:(?:and|so|ok|okay)\b[\s,]*)?(?:(?:what|how)\s+about|for)?\s*(?P<rest>[^?]*?)\s*\??\s*$", re.IGNORECASE)
_TOPIC = re.compile(r"\s*\([^()]*\)\s*$")  # the "(topic)" a rewritten follow-up ends with
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")  # a message's sentences, lower-case starts too ("that's slow. how…")
_ONE_OF = re.compile(rf"(?:\b(?:a|an|one|per|each|every)\b|{_COUNT})\s+([A-Za-z][\w-]*)", re.IGNORECASE)


def is_followup(question: str) -> bool:
    """"and how long does that take?", "why?", "How many would 10 GW be?": a question that leans on
    the previous turn for its topic."""
    sentences = _SENTENCE_END.split(question.strip())
    if len(sentences) > 1 and _leans(sentences[-1]):
        return True  # "That seems slow. How are they speeding it up?": the question proper leans on it
    return _leans(question)


def _leans(question: str) -> bool:
    content = [t for t in tokenize(question) if t not in QUESTION_WORDS]
    return (not content or bool(_FOLLOWUP_START.match(question.strip())) or bool(_ELLIPTICAL.match(question))
            or (len(content) <= 3 and bool(_PRONOUN.search(question))) or len(content) <= 1)


def standalone_query(question: str, history: Sequence[str], lean: bool = False, figures: bool = True) -> str:
    """The search query for `question` given the thread's earlier user questions (oldest first):
    the question itself, or for a follow-up the question with the previous turn's topic added.
    `lean`: add the topic whatever the question looks like (a later part of one question).
    `figures=False`: the topic without the previous turn's numbers, for planning a calculation
    (they are that turn's operands, not this one's; a search keeps them as words of the topic)."""
    if not history or not (lean or is_followup(question)):
        return question
    previous = history[-1]
    if len(history) > 1 and is_followup(previous):
        previous = standalone_query(previous, history[:-1], figures=figures)
    words = previous if figures else _FIGURE.sub(" ", previous)
    topic = " ".join(w for w in re.findall(r"[\w$%.-]+", words) if tokenize(w) and tokenize(w)[0] not in QUESTION_WORDS)
    counted = re.search(r"\bhow\s+(?:many|much)\s+([A-Za-z][\w-]*)", previous, re.IGNORECASE)
    if counted and _ELLIPTICAL.match(question):  # "How many would 10 GW be?" counts what the last turn counted
        question = re.sub(r"^(\s*how\s+(?:many|much))\s+", rf"\1 {counted.group(1)} ", question, count=1, flags=re.IGNORECASE)
    asked = _asked_again(question, _TOPIC.sub("", previous))  # its own question, not the topic it carried
    return f"{asked or _counted_units(question, previous)} ({topic})"


def _counted_units(question: str, previous: str) -> str:
    """"three of them" as "three kilowatt" when the last turn named one of a unit ("a kilowatt",
    "1000 GPUs"); otherwise the question as it is."""
    m = _OF_THEM.search(question)
    counted = _counted(previous) if m else None
    return question if m is None or counted is None else _splice(question, m.start(), m.end(), f"{m.group(1)} {counted.text}")


class _Phrase(NamedTuple):
    """A figure a question states: where it stands, its words, its unit and what that measures."""

    start: int
    end: int
    kind: str
    text: str
    unit: str


def _splice(text: str, start: int, end: int, new: str) -> str:
    return text[:start] + new + text[end:]


def _unit_of(word: str) -> tuple[str, str] | None:
    """(unit, kind) when `word` names a unit ("kilowatt" -> kW, power; "GPUs" -> GPU, count)."""
    from kb.quantities import extract_quantities

    found = [q for q in extract_quantities(f"2 {word}") if q.unit]
    return (found[0].unit, found[0].kind) if found else None


def _counted(text: str) -> _Phrase | None:
    """What "them" counts in a question that named one of a unit: the first so named ("a kilowatt",
    "1000 GPUs"; not a time: "in a day" is a window, not the thing), its `text` the unit's word;
    None when it named none (a plain noun may be anyone: "one of them" stays as asked)."""
    for m in _ONE_OF.finditer(text):
        unit = _unit_of(m.group(1))
        if unit and unit[1] != "time":
            return _Phrase(m.start(), m.end(), unit[1], m.group(1), unit[0])
    return None


def _asked_again(question: str, previous: str) -> str | None:
    """"And what about 2 GW?" after "What does a kilowatt cost?": the last question with its figure
    replaced ("What does 2 GW cost?"), when the follow-up is only a figure ("…about 10,000 of them?",
    "…about a million?", "and in 2031?"). The figure replaced is the last question's one of the same
    unit, else the only one of the same kind; a bare number replaces a bare one (a year a year), else
    the number of the only figure with a unit ("a million GPUs"). None when nothing fits."""
    question = " ".join(question.split())  # one space at a time: the pattern below cannot backtrack far
    m = _ABOUT.match(question)
    if m is None or not _FOLLOWUP_START.match(question) or not _FIGURE.search(m.group("rest")):
        return None
    rest = m.group("rest")
    them = _OF_THEM.fullmatch(rest)
    if them:  # "300 of them": that many of what the last question named one of
        counted = _counted(previous)
        return None if counted is None else _splice(previous, counted.start, counted.end, f"{them.group(1)} {counted.text}")
    from kb.quantities import extract_quantities

    new = extract_quantities(rest)
    if len(new) != 1 or len(tokenize(rest)) > len(tokenize(new[0].text)):
        return None  # more than a figure: a question of its own
    q, phrases = new[0], _figure_phrases(previous)
    if q.unit:
        fits = [p for p in phrases if p.unit == q.unit] or [p for p in phrases if p.kind == q.kind][:2]
        return _splice(previous, fits[0].start, fits[0].end, q.text) if len(fits) == 1 else None
    bare = [p for p in phrases if not p.unit and _is_year(p.text) == _is_year(q.text)]
    if bare:
        return _splice(previous, bare[0].start, bare[0].end, q.text)
    united = [p for p in phrases if p.unit and p.kind != "time"] or [p for p in phrases if p.unit]  # "in a day": a window
    if _is_year(q.text) or len(united) != 1:
        return None
    p = united[0]
    number = _FIGURE.search(p.text) or re.match(r"\b(?:a|an|one)\b", p.text, re.IGNORECASE)
    return _splice(previous, p.start, p.end, _splice(p.text, number.start(), number.end(), q.text)) if number else None


def _is_year(text: str) -> bool:
    return re.fullmatch(r"\s*(?:in\s+)?(?:1[5-9]|20)\d\d\s*", text, re.IGNORECASE) is not None


def _figure_phrases(text: str) -> list[_Phrase]:
    """The figures a question states, in order: quantities ("3 kW", "one GPU") and one of a unit
    ("a kilowatt"); never a part of a time code ("00:02:00")."""
    from kb.quantities import extract_quantities

    found = [_Phrase(q.span[0], q.span[1], q.kind, q.text, q.unit) for q in extract_quantities(text)]
    for m in _ONE_OF.finditer(text):
        if any(p.start <= m.start() < p.end for p in found) or re.match(r"(?i:per|each|every)\b", m.group(0)):
            continue  # "per day": the rate's unit, not a figure of the question
        unit = _unit_of(m.group(1))
        if unit:
            found.append(_Phrase(m.start(), m.end(), unit[1], m.group(0), unit[0]))
    return sorted(p for p in found if ":" not in text[max(0, p.start - 1):p.end + 1])
