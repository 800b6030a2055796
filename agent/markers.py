"""Citation markers as the citation guard (agent.citations) writes them — `[10:31]`,
`[talk 10:31, 44:00]`, `[Some Notes ¶3]` — and the link each item opens.

Kept apart from the guard so that a renderer (a cached brief, an answer shown again) imports only
this and kb.timecode, not the guard's sentence and number machinery; agent.citations re-exports it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from kb.timecode import TIME_PATTERN

LOC = rf"(?:{TIME_PATTERN}|¶\d+)"
"""Regex source of a marker item's locator: a time label or a paragraph `¶3`."""
_LABEL = rf"(?:[^\[\]\n,;]+?\s+)?{LOC}"
CITE = re.compile(rf"\[\s*({_LABEL}(?:\s*[,;]\s*{_LABEL})*)\s*\]")
"""A canonical marker; group 1 is its body (`10:31, 44:00`)."""
ITEM = re.compile(rf"^(?:(.+?)\s+)?({LOC})$")
"""One item of a marker's body: an optional source, then the locator."""


def find_citation(item: str, citations: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The citation a marker item names: `10:31` or `talk 10:31` by time, `doc-id ¶3` by locator."""
    m = ITEM.match(item.strip())
    if not m:
        return None
    source, label = m.groups()
    for c in citations:
        if c.get("at") == label and (source is None or c.get("source") == source):
            return c
    return None


def marker_links(body: str, citations: Sequence[dict[str, Any]]) -> list[tuple[str, str | None]]:
    """The items of a canonical marker's body (`10:31, 44:00`) with the URL each opens, if any;
    what every interface needs to turn a marker into links."""
    out = []
    for item in re.split(r"\s*[,;]\s*", body.strip()):
        c = find_citation(item, citations)
        out.append((item.strip(), c.get("url") if c else None))
    return out
