"""Follow-up questions made standalone: "and how long does that take?" leans on the previous turn
for its topic, so the search for it carries that turn's content words too.

Used by the graph's retrieve-first step for every backend. The words below are general English
question words (what kind of answer is wanted), not words of any one corpus.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from kb.lexical import tokenize

_FOLLOWUP_START = re.compile(r"^(and|but|so|also|what about|how about|then|ok|okay)\b", re.IGNORECASE)
_PRONOUN = re.compile(r"\b(that|this|it|they|them|those|these|he|she|his|her|its|their|there)\b", re.IGNORECASE)
QUESTION_WORDS = frozenset(tokenize(
    "many much big long large often fast kind type way according mention mentioned discuss describe explain give "
    "example compare call need both"))


def content_terms(question: str) -> list[str]:
    """The question's terms that say what it is about (stems, question words removed)."""
    return [t for t in tokenize(question) if t not in QUESTION_WORDS]


def is_followup(question: str) -> bool:
    """"and how long does that take?", "why?": a question that leans on the previous turn for its topic."""
    content = content_terms(question)
    return (not content or bool(_FOLLOWUP_START.match(question.strip()))
            or (len(content) <= 3 and bool(_PRONOUN.search(question))))


def standalone_query(question: str, history: Sequence[str]) -> str:
    """The search query for `question` given the thread's earlier user questions (oldest first):
    the question itself, or for a follow-up the question with the previous topic added."""
    if not history or not is_followup(question):
        return question
    previous = history[-1]
    if len(history) > 1 and is_followup(previous):
        previous = standalone_query(previous, history[:-1])
    topic = " ".join(w for w in re.findall(r"[\w$%.-]+", previous) if tokenize(w) and tokenize(w)[0] not in QUESTION_WORDS)
    return f"{question} ({topic})" if topic else question
