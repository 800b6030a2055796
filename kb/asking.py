"""Whether a sentence asks: the one question test, shared by answer scoring (agent.evidence), the
citation guard and ingest's sentence vectors (kb.speakers)."""

from __future__ import annotations

import re

_ENDS_ASKING = re.compile(r"\?[\s\"'”’)*_.]*$")
_TAG = re.compile(r",\s*(?:right|isn't\s+it|is\s+it|no|yeah|correct|ok|okay|huh|you\s+know|agreed|don't\s+you\s+think)"
                  r"\s*\?[\s\"'”’)*_.]*$", re.IGNORECASE)


def is_question(text: str) -> bool:
    """The sentence asks: it ends with a question mark, quotes and brackets aside. (A statement with
    a tag, "…, right?", counts as a question too: on the dev sets treating it as a claim lost
    citation precision on every set.)"""
    return bool(_ENDS_ASKING.search(text.strip()))


def is_tag_question(text: str) -> bool:
    """A statement with a tag ("A rack draws about 40 kW, right?"): it asks for agreement with
    what it states, so it states something a citation can rest on, though it is no claim to quote as
    an answer (is_question counts it as a question)."""
    return _TAG.search(text.strip()) is not None
