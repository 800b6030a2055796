"""What an episode mentions: names read from the text itself (capitalised runs and names with
digits, such as "DeepSeek V3" or "H100"), each with its first mention, how often it recurs, a kind
(company, person, product, model, or name) from cues around it, and a one-line description when
the text gives one ("X is a ...", "X, the ...").

The cues live in `name_kinds.json` beside this module, so a user can extend them.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from kb.tokens import STOPWORDS
from kb.types import Sentence

CUES_FILE = Path(__file__).resolve().parent / "name_kinds.json"
MAX_NAMES = 20
_TOKEN = re.compile(r"[A-Za-z0-9][\w&.’'+-]*")
_DESCRIPTION = re.compile(r"^(?:,\s*((?:a|an|the)\s+[^,.;:!?()\[\]]{3,80}),|\s+(?:is|was)\s+((?:a|an)\s+[^,.;:!?()\[\]]{3,80}))")


@dataclass
class Mention:
    name: str
    first_sentence: int
    first_offset: int
    count: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    description: str = ""


@lru_cache(maxsize=2)
def cues(path: str = str(CUES_FILE)) -> dict[str, Any]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if not k.startswith("_") and k != "not_names"}


@lru_cache(maxsize=2)
def not_names(path: str = str(CUES_FILE)) -> frozenset[str]:
    return frozenset(json.loads(Path(path).read_text(encoding="utf-8")).get("not_names", []))


def _name_like(word: str) -> bool:
    core = word.strip(".'’-")
    if not core:
        return False
    has_digit = any(c.isdigit() for c in core)
    has_alpha = any(c.isalpha() for c in core)
    return (core[0].isupper() and has_alpha) or (has_digit and has_alpha and core[0].isalpha())


def _runs(text: str) -> list[tuple[int, str]]:
    """(offset, name) for every run of name-like words in `text`."""
    out: list[tuple[int, str]] = []
    run: list[re.Match[str]] = []

    def flush() -> None:
        words = [m.group(0) for m in run]
        start = run[0].start() if run else 0
        while words and words[0].lower().strip(".'’") in STOPWORDS:
            start += len(words[0]) + 1
            words.pop(0)
        if words:
            name = re.sub(r"(?:['’]s|[.,'’-])+$", "", " ".join(words))
            if name:
                out.append((start, name))
        run.clear()

    for m in _TOKEN.finditer(text):
        joins = not run or text[run[-1].end():m.start()] == " "
        if run and joins and m.group(0).isdigit():  # "Orbit 2": a number continues a name
            run.append(m)
            continue
        if _name_like(m.group(0)) and joins:
            run.append(m)
            continue
        if run:
            flush()
        if _name_like(m.group(0)):
            run.append(m)
    if run:
        flush()
    return out


def _kind(name: str, before: str, after: str) -> str:
    low_before, low_after = before.lower().strip(), after.lower().strip()
    for kind, cue in cues().items():
        if any(low_before.endswith(" " + w) or low_before == w for w in cue.get("before", [])):
            return kind
        if any(low_after.startswith(w + " ") or low_after == w or low_after.startswith(w + ",") for w in cue.get("after", [])):
            return "model" if kind == "product" and low_after.startswith("model") else kind
        if any(w in name.split() for w in cue.get("inside", [])):
            return kind
    return "model" if any(c.isdigit() for c in name) else "name"


def mentions(sentences: Sequence[Sentence]) -> list[Mention]:
    """Names in the sentences, most mentioned first (at most MAX_NAMES), then in order of first mention."""
    lower_words = {w.lower() for s in sentences for w in _TOKEN.findall(s.text) if w[:1].islower()}
    found: dict[str, Mention] = {}
    mid_sentence: Counter[str] = Counter()  # words seen capitalised away from a sentence start
    starts: Counter[str] = Counter()
    runs = [(i, offset, name) for i, s in enumerate(sentences) for offset, name in _runs(s.text)
            if name not in not_names()]
    for i, offset, name in runs:
        if sentences[i].text[:offset].strip(" >\"'“("):
            mid_sentence.update(set(name.split()) | {name})
        else:
            starts[name] += 1
    for i, offset, name in runs:
        text = sentences[i].text
        first = name.split()[0]
        if " " in name and not text[:offset].strip(" >\"'“(") and first not in mid_sentence:
            offset, name = offset + len(first) + 1, name[len(first) + 1:]  # "Thanks Priya": the sentence's first word
        single = " " not in name
        if not any(c.isalpha() for c in name):
            continue
        if single and (name.lower() in STOPWORDS or len(name) < 2 or name.lower() in lower_words):
            continue
        if single and not any(c.isdigit() for c in name) and not name.isupper() \
                and mid_sentence[name] < max(1, starts[name]):
            continue  # capitalised mostly because it starts a sentence ("Thanks", "Agreed")
        if name.split()[0].split("'")[0].split("’")[0] == "I":
            continue
        key = _singular(name).lower()
        m = found.get(key)
        if m is None:
            m = found[key] = Mention(_singular(name), i, offset)
        m.count += 1
        kind = _kind(name, text[max(0, offset - 30):offset], text[offset + len(name):offset + len(name) + 30])
        m.kinds[kind] = m.kinds.get(kind, 0) + 1
        if not m.description:
            d = _DESCRIPTION.match(text[offset + len(name):])
            desc = (d.group(1) or d.group(2) or "").strip() if d else ""
            if len(desc.split()) >= 3:
                m.description = desc
    top = sorted(found.values(), key=lambda m: (-m.count, m.first_sentence))[:MAX_NAMES]
    return sorted(top, key=lambda m: (m.first_sentence, m.first_offset))


def _singular(name: str) -> str:
    """"GPUs" -> "GPU": an acronym's plural names the same thing."""
    return name[:-1] if len(name) > 2 and name.endswith("s") and name[:-1].isupper() else name


def kind_of(m: Mention) -> str:
    """The kind most cues gave (a definite kind beats "name")."""
    definite = {k: v for k, v in m.kinds.items() if k != "name"}
    pool = definite or m.kinds
    return max(sorted(pool), key=lambda k: pool[k]) if pool else "name"
