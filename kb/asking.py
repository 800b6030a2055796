"""Whether a sentence asks: the one question test, shared by answer scoring (agent.evidence), the
citation guard and ingest's sentence vectors (kb.speakers); and whether it asks in the form of a
statement ("Tell me about a tool you rely on."), as an interviewer's prompt often does."""

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


# "Tell us about…", "Pick a company you'd bet on.", "So walk me through your setup.": a verb that asks
# the listener to speak, said to them (a "you", "me" or "us" in the sentence). General English, the
# same for every transcript.
_REQUEST = re.compile(
    r"^(?:(?:so|and|now|okay|ok|well|please|alright|all\s+right|then)[,\s]+)*"
    r"(?:tell|pick|name|describe|explain|walk|give|share|choose|talk\s+(?:to|about|with|through)|list|compare|define|introduce|remind|"
    r"elaborate|expand)\b", re.IGNORECASE)
_ADDRESSED = re.compile(r"\b(?:you|your|yours|yourself|yourselves|you'[a-z]+|me|us)\b", re.IGNORECASE)
_INVITES = re.compile(
    r"\b(?:i'd\s+love\s+to\s+(?:hear|know)|i\s+would\s+love\s+to\s+(?:hear|know)|i\s+want\s+to\s+ask\s+you|"
    r"i'd\s+like\s+to\s+ask\s+you|i'm\s+curious\s+(?:what|how|why|whether|if|about)\s+you|i\s+wonder\s+(?:if|whether)\s+you|"
    r"(?:a|my|one|next|last)\s+question\s+for\s+you)\b", re.IGNORECASE)
# a sentence that carries on a request in the same turn: "And the same for one you'd avoid."
_CARRIES_ON = re.compile(r"^(?:and|or|also|plus)\b", re.IGNORECASE)


def is_request(text: str) -> bool:
    """The sentence asks without a question mark: a verb that asks the listener to speak ("Tell me
    about…", "Pick a company that you'd bet on.") or an invitation ("I'd love to hear what you…"),
    said to them. It states nothing a citation can rest on."""
    t = text.strip()
    return bool((_REQUEST.match(t) or _INVITES.search(t)) and _ADDRESSED.search(t))


def asks_listener(text: str) -> bool:
    """The sentence asks the listener: a question, or a request put as a statement (is_request)."""
    return is_question(text) or is_request(text)


def carries_on_request(text: str) -> bool:
    """The sentence goes on with the request before it in the same turn ("And the one you'd avoid.")."""
    t = text.strip()
    return bool(_CARRIES_ON.match(t) and _ADDRESSED.search(t)) and not is_question(t)
