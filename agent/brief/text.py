"""Small text helpers for briefs: disfluencies dropped for display, word counts, distinctive terms."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from kb.tokens import STOPWORDS, tokenize

GENERIC_FILE = Path(__file__).resolve().parent / "generic_words.txt"
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")


def clean_quote(text: str) -> str:
    """The sentence for display: only "uh"/"um" and words said twice dropped (agent.evidence.display)."""
    from agent.evidence import display

    return display(text)


def content_words(text: str) -> int:
    return len(tokenize(text))


@lru_cache(maxsize=1)
def generic_words() -> frozenset[str]:
    """Stems of the words in generic_words.txt."""
    lines = GENERIC_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(t for ln in lines if ln.strip() and not ln.startswith("#") for t in tokenize(ln.strip()))


def distinctive_terms(groups: Sequence[Sequence[str]], top: int = 3) -> list[list[str]]:
    """For each group of sentences, its most distinctive words (tf·idf over the groups), in the
    surface form used most often."""
    generic = generic_words()
    stems = [Counter(t for s in g for t in tokenize(s) if len(t) > 2 and not t.isdigit() and t not in generic
                     and "'" not in t) for g in groups]
    surfaces: dict[str, Counter[str]] = {}
    for g in groups:
        for s in g:
            for w in _WORD.findall(s):
                low = w.lower()
                if low in STOPWORDS or len(low) <= 2:
                    continue
                stem = tokenize(low)
                if stem:
                    surfaces.setdefault(stem[0], Counter())[w if w.isupper() else low] += 1
    df = Counter(t for c in stems for t in c)
    from kb.lexicon import lexicon

    misheard = lexicon().misheard  # a misheard unit word is titled as the word meant
    n = len(groups)
    out = []
    for c in stems:
        pool = [t for t in c if n == 1 or df[t] < n]  # a word every chapter uses names none of them
        scored = sorted(pool, key=lambda t: (-(c[t] * (math.log(n / df[t]) if n > 1 else 1.0)), -c[t], t))
        words = []
        for t in scored:
            if c[t] < 2 and len(words) >= 1:
                continue
            form = surfaces.get(t, Counter({t: 1})).most_common(1)[0][0]
            form = misheard.get(form.lower(), form)
            if form.lower() not in {w.lower() for w in words}:
                words.append(form)
            if len(words) >= top:
                break
        out.append(words)
    return out


def title_from(words: Sequence[str]) -> str:
    """`["terawatt", "power", "grid"]` -> `Terawatt, power and grid`."""
    if not words:
        return ""
    text = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    return text[:1].upper() + text[1:]
