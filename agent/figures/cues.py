"""`needs_figures(question)`: whether a question asks for a computation ("what do 6 GW cost at
$70B/GW?") rather than a lookup.
"""

from __future__ import annotations

import re

from agent.figures.facts import _GROWTH, _extract
from agent.figures.patterns import _DURATION

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
