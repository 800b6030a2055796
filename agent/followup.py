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
_COUNT = rf"(?:(?<![\w.]){DIGITS}|\b(?:{number_words_pattern()}))"
_FIGURE = re.compile(rf"(?<![\w.-])(?:{DIGITS})(?![\w-])|\b(?:{number_words_pattern()})\b", re.IGNORECASE)
_OF_THEM = re.compile(rf"({_COUNT})\s+of\s+(?:them|those|these)\b", re.IGNORECASE)
# "And what about 2 GW?", "And for 10,000 of them?", "And 8 kW?": the last question again, for other figures
_ABOUT = re.compile(r"^\s*(?:(?:and|so|ok|okay)\b[\s,]*)?(?:(?:what|how)\s+about|for)?\s*(?P<rest>[^?]*?)\s*\??\s*$", re.IGNORECASE)
_TOPIC = re.compile(r"\s*\([^()]*\)\s*$")  # the "(topic)" a rewritten follow-up ends with
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
        previous = standalone_query(previous, history[:-1], figures=figures)
    words = previous if figures else _FIGURE.sub(" ", previous)
    topic = " ".join(w for w in re.findall(r"[\w$%.-]+", words) if tokenize(w) and tokenize(w)[0] not in QUESTION_WORDS)
    counted = re.search(r"\bhow\s+(?:many|much)\s+([A-Za-z][\w-]*)", previous, re.IGNORECASE)
    if counted and _ELLIPTICAL.match(question):  # "How many would 10 GW be?" counts what the last turn counted
        question = re.sub(r"^(\s*how\s+(?:many|much))\s+", rf"\1 {counted.group(1)} ", question, count=1, flags=re.IGNORECASE)
    asked = _asked_again(question, _TOPIC.sub("", previous))  # its own question, not the topic it carried
    return f"{asked or _counted_units(question, previous)} ({topic})"


def _counted_units(question: str, previous: str) -> str:
    """"three of them" as "three kilowatt" when the last turn named one of something ("a kilowatt",
    "one household", "1000 GPUs"); otherwise the question as it is."""
    m = _OF_THEM.search(question)
    counted = _counted(previous) if m else None
    return question if m is None or counted is None else f"{question[:m.start()]}{m.group(1)} {counted[2]}{question[m.end():]}"


def _counted(text: str) -> tuple[int, int, str] | None:
    """What "them" counts in a question that named one of a unit: the first so named ("a kilowatt",
    "1000 GPUs"; not a time: "in a day" is a window, not the thing), as (start, end, word) of the
    phrase; None when it named none (a plain noun may be anyone: "one of them" stays as asked)."""
    from kb.quantities import extract_quantities

    for m in _ONE_OF.finditer(text):
        kinds = [q.kind for q in extract_quantities(f"2 {m.group(1)}") if q.unit]
        if kinds and "time" not in kinds:
            return m.start(), m.end(), m.group(1)
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
        return None if counted is None else f"{previous[:counted[0]]}{them.group(1)} {counted[2]}{previous[counted[1]:]}"
    from kb.quantities import extract_quantities

    new = extract_quantities(rest)
    if len(new) != 1 or len(tokenize(rest)) > len(tokenize(new[0].text)):
        return None  # more than a figure: a question of its own
    q, phrases = new[0], _figure_phrases(previous)
    if q.unit:
        fits = [p for p in phrases if p[4] == q.unit] or [p for p in phrases if p[2] == q.kind][:2]
        return previous[:fits[0][0]] + q.text + previous[fits[0][1]:] if len(fits) == 1 else None
    bare = [p for p in phrases if not p[4] and _is_year(p[3]) == _is_year(q.text)]
    if bare:
        return previous[:bare[0][0]] + q.text + previous[bare[0][1]:]
    united = [p for p in phrases if p[4] and p[2] != "time"] or [p for p in phrases if p[4]]  # "in a day": a window
    if _is_year(q.text) or len(united) != 1:
        return None
    start, end, _, text, _ = united[0]
    number = _FIGURE.search(text) or re.match(r"\b(?:a|an|one)\b", text, re.IGNORECASE)
    return previous[:start] + text[:number.start()] + q.text + text[number.end():] + previous[end:] if number else None


def _is_year(text: str) -> bool:
    return re.fullmatch(r"\s*(?:in\s+)?(?:1[5-9]|20)\d\d\s*", text, re.IGNORECASE) is not None


def _figure_phrases(text: str) -> list[tuple[int, int, str, str, str]]:
    """The figures a question states, in order: quantities ("3 kW", "one GPU") and one of a unit
    ("a kilowatt"), each as (start, end, kind, words, unit); never a part of a time code ("00:02:00")."""
    from kb.quantities import extract_quantities

    found = [(q.span[0], q.span[1], q.kind, q.text, q.unit) for q in extract_quantities(text)]
    for m in _ONE_OF.finditer(text):
        if any(a <= m.start() < b for a, b, *_ in found) or re.match(r"(?i:per|each|every)\b", m.group(0)):
            continue  # "per day": the rate's unit, not a figure of the question
        unit = [q for q in extract_quantities(f"2 {m.group(1)}") if q.unit]
        if unit:
            found.append((m.start(), m.end(), unit[0].kind, m.group(0), unit[0].unit))
    return sorted(f for f in found if ":" not in text[max(0, f[0] - 1):f[1] + 1])
