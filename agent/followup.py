"""Follow-up questions made standalone: "and how long does that take?" leans on the previous turn
for its topic, so the search for it carries that turn's content words too.

Used by the graph's retrieve-first step for every backend (the same rules as the offline model's
own rewriting, so its first search is the one it would have made). The words are general English
question words (agent.abstention.QUESTION_WORDS), not words of any one corpus.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from agent.abstention import QUESTION_WORDS
from kb.numbers import DIGITS, number_words_pattern
from kb.tokens import tokenize

_FOLLOWUP_START = re.compile(r"^(and|but|so|also|what about|how about|then|ok|okay)\b", re.IGNORECASE)
_PRONOUN = re.compile(r"\b(that|this|it|they|them|those|these|he|she|his|her|its|their|there|one|ones)\b", re.IGNORECASE)
# "How many would 10 GW be?": a quantity question whose counted thing is left out
_ELLIPTICAL = re.compile(r"^\s*how\s+(?:many|much)\s+(?:would|will|could|does|do|did|is|are|was|were|for|in)\b", re.IGNORECASE)
# "What would three of them cost?": a count of the thing the last turn named one of ("a kilowatt")
_COUNT = rf"(?:{DIGITS}|\b(?:{number_words_pattern()}))"
_FIGURE = re.compile(rf"(?<![\w.-])(?:{DIGITS})(?![\w-])|\b(?:{number_words_pattern()})\b", re.IGNORECASE)
_OF_THEM = re.compile(rf"({_COUNT})\s+of\s+(?:them|those|these)\b", re.IGNORECASE)
_ONE_OF = re.compile(rf"(?:\b(?:a|an|one|per|each|every)\b|{_COUNT})\s+([A-Za-z][\w-]*)", re.IGNORECASE)


def is_followup(question: str) -> bool:
    """"and how long does that take?", "why?", "How many would 10 GW be?": a question that leans on
    the previous turn for its topic."""
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
        previous = standalone_query(previous, history[:-1])
    words = previous if figures else _FIGURE.sub(" ", previous)
    topic = " ".join(w for w in re.findall(r"[\w$%.-]+", words) if tokenize(w) and tokenize(w)[0] not in QUESTION_WORDS)
    counted = re.search(r"\bhow\s+(?:many|much)\s+([A-Za-z][\w-]*)", previous, re.IGNORECASE)
    if counted and _ELLIPTICAL.match(question):  # "How many would 10 GW be?" counts what the last turn counted
        question = re.sub(r"^(\s*how\s+(?:many|much))\s+", rf"\1 {counted.group(1)} ", question, count=1, flags=re.IGNORECASE)
    return f"{_counted_units(question, previous)} ({topic})"


def _counted_units(question: str, previous: str) -> str:
    """"three of them" as "three kilowatt" when the last turn named one of a unit ("a kilowatt",
    "1000 GPUs": the last such); otherwise the question as it is."""
    m = _OF_THEM.search(question)
    if m is None:
        return question
    from kb.quantities import extract_quantities

    units = [w for w in (x.group(1) for x in _ONE_OF.finditer(previous))
             if any(q.unit for q in extract_quantities(f"2 {w}"))]
    return question if not units else f"{question[:m.start()]}{m.group(1)} {units[-1]}{question[m.end():]}"
