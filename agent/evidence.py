"""Evidence selection: which retrieved sentences answer a question, scored by what they mean.

Each candidate sentence of this turn's passages is scored against the question with the embedding
model the index already loads (one batch, only the retrieved sentences) together with BM25 term
weights. Questions, backchannels ("Right?", "Oh, you name it.") and text addressed to an assistant
are never claims. A sentence that starts mid-thought gets the sentence before it, a short one the
sentences after it; near-duplicates are dropped; each sentence is cited at its own second.
Nothing here knows a corpus: the same rules apply to every transcript.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from kb.lexical import tokenize

SEMANTIC_WEIGHT = 0.6  # the rest is the IDF-weighted share of the question's terms
MIN_CLAIM_TERMS = 3  # content words a sentence needs to carry a claim
_MID_THOUGHT = re.compile(r"^(?:and|but|so|because|which|that|or|then|also|too|plus|as well)\b", re.IGNORECASE)
_ANNOUNCES = re.compile(
    r"\b(?:two|three|four|five|several|a\s+few|a\s+couple\s+of|a\s+number\s+of)\s+(?:\w+\s+)?"
    r"(?:factors|reasons|things|ways|points|parts|problems|issues|drivers|tailwinds|headwinds|steps|options|kinds|types|"
    r"lessons|challenges|questions|ideas|trends)\b|:\s*$", re.IGNORECASE)
_DISFLUENCY = re.compile(r"\b(?:uh|um|uhm|er|erm|ah|hmm|mm)\b[,.]?\s*", re.IGNORECASE)
_REPEAT = re.compile(r"\b(\w+)(?:,?\s+\1\b)+", re.IGNORECASE)


@dataclass
class Scored:
    """A candidate sentence with its scores: `semantic` (cosine to the question), `lexical`
    (IDF-weighted share of the question's terms it contains) and the blend used to rank."""

    item: dict[str, Any]
    semantic: float
    lexical: float
    score: float


class SentenceEncoder:
    """Cosine similarity between a question and sentences, with the index's embedding model;
    embeddings of sentences already seen are reused (an answer step runs more than once a turn)."""

    def __init__(self, embedder: Any | None) -> None:
        # an embedder that only hashes words (the tests' stand-in) says nothing about meaning
        self.embedder = embedder if getattr(embedder, "semantic", True) else None
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()  # questions may be answered in parallel; the cache is shared

    def similarities(self, query: str, texts: Sequence[str]) -> list[float]:
        if self.embedder is None or not texts:
            return [0.0] * len(texts)
        with self._lock:
            return self._similarities(query, texts)

    def _similarities(self, query: str, texts: Sequence[str]) -> list[float]:
        missing = [t for t in dict.fromkeys([query, *texts]) if t not in self._cache]
        if missing:
            for t, v in zip(missing, self.embedder.embed(missing)):
                self._cache[t] = v
            if len(self._cache) > 4096:
                self._cache = {t: self._cache[t] for t in [query, *texts]}
        import numpy as np

        q = np.asarray(self._cache[query], dtype=np.float32)
        m = np.asarray([self._cache[t] for t in texts], dtype=np.float32)
        norms = np.linalg.norm(m, axis=1) * (np.linalg.norm(q) or 1.0)
        return (m @ q / np.where(norms == 0, 1.0, norms)).tolist()


def content_terms(text: str, extra_stop: frozenset[str] = frozenset()) -> set[str]:
    return {t for t in tokenize(text) if t not in extra_stop}


def weighted_share(terms: set[str], text: str, idf: Callable[[str], float] | None) -> float:
    """IDF-weighted share of `terms` that `text` contains (uniform weights without an index)."""
    if not terms:
        return 0.0
    words = set(tokenize(text))
    weight = idf or (lambda _t: 1.0)
    total = sum(weight(t) for t in terms)
    return sum(weight(t) for t in terms & words) / total if total else 0.0


def is_claim(text: str, looks_like_instruction: Callable[[str], bool]) -> bool:
    """A sentence that can carry an answer: not a question, a backchannel or an instruction."""
    t = text.strip()
    if not t or t.endswith("?") or looks_like_instruction(t):
        return False
    return len(set(tokenize(_DISFLUENCY.sub("", t)))) >= MIN_CLAIM_TERMS


def score(query: str, terms: set[str], items: Sequence[dict[str, Any]], encoder: SentenceEncoder,
          idf: Callable[[str], float] | None) -> list[Scored]:
    """Every item scored against the question (same order as `items`)."""
    sims = encoder.similarities(query, [i["text"] for i in items])
    out = []
    for item, sim in zip(items, sims):
        lex = weighted_share(terms, item["text"], idf)
        blend = SEMANTIC_WEIGHT * sim + (1 - SEMANTIC_WEIGHT) * lex if encoder.embedder is not None else lex
        out.append(Scored(item, sim, lex, blend))
    return out


def near_duplicate(a: str, b: str, threshold: float = 0.8) -> bool:
    """The same words (most of the shorter sentence's words are in the longer one)."""
    ta, tb = set(tokenize(a)), set(tokenize(b))
    if not ta or not tb:
        return a.strip().lower() == b.strip().lower()
    return len(ta & tb) / min(len(ta), len(tb)) >= threshold


def with_context(s: dict[str, Any], items: Sequence[dict[str, Any]], looks_like_instruction: Callable[[str], bool],
                 min_words: int = 12, most: int = 3) -> list[dict[str, Any]]:
    """The sentence, preceded by the one before it when it starts mid-thought ("And that's why…"),
    followed by the next ones of its passage while it is too short to carry an answer."""
    same = sorted((x for x in items if x["passage"] == s["passage"]), key=lambda x: x["pos"])
    before = [x for x in same if x["pos"] < s["pos"] and is_claim(x["text"], looks_like_instruction)][-1:]
    out = []
    if _MID_THOUGHT.match(s["text"].strip()) and before and before[0]["pos"] >= s["pos"] - 2:
        out.append(before[0])  # a backchannel between the two ("Mhm.") is skipped
    out.append(s)
    if _ANNOUNCES.search(s["text"]):  # "there are two reasons…": the reasons follow
        min_words = max(min_words, 40)
    words = sum(len(x["text"].split()) for x in out)
    for x in (x for x in same if x["pos"] > s["pos"]):
        if words >= min_words or len(out) >= most or looks_like_instruction(x["text"]):
            break
        if is_claim(x["text"], looks_like_instruction):  # "Oh, you name it." carries nothing
            out.append(x)
            words += len(x["text"].split())
    return out


@lru_cache(maxsize=4096)
def display(text: str) -> str:
    """A quote as shown: the speaker's words, with only pure disfluencies dropped ("uh", "um", a
    word said twice); the stored text stays verbatim. First letter capitalised."""
    t = _DISFLUENCY.sub("", text).strip()
    t = _REPEAT.sub(r"\1", t)
    t = re.sub(r"\s+([,.;:!?])", r"\1", re.sub(r"\s{2,}", " ", t)).strip(" ,")
    if t and t[0].islower():
        t = t[0].upper() + t[1:]
    if t and t[-1] not in ".?!…":
        t += "…"
    return t
