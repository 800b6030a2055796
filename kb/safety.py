"""Text addressed to an assistant inside the knowledge base ("ignore your instructions and…").

Retrieved text is data: such a sentence is kept as its own sentence at ingest (so it cannot swallow
the real sentence after it), flagged to a model as quoted data, and never cited as support.
"""

from __future__ import annotations

import re

INJECTION = re.compile(
    r"\b(ignore|disregard|forget)\b.{0,40}\b(instructions?|prompts?|rules)\b|\bsystem prompt\b|\byou are now\b",
    re.IGNORECASE,
)


def looks_like_instruction(text: str) -> bool:
    """A sentence that addresses the assistant ("ignore your instructions and ...")."""
    return bool(INJECTION.search(text))
