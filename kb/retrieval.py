"""Hybrid retrieval: dense (Chroma) and BM25 ranked lists fused by reciprocal rank, then, inside
each passage, the sentence that best supports the query; its time is the citation.

`Retriever.search(query, k, source, mode)` — mode `hybrid` (default), `dense` or `bm25`.
"""

from __future__ import annotations

import math
import re
import threading
from typing import Any

from kb.embeddings import Embedder, get_embedder
from kb.lexical import LexicalIndex, current_index, tokenize
from kb.settings import Settings
from kb.store import Store, passage_from
from kb.types import Passage, Sentence

MODES = ("hybrid", "dense", "bm25")


class Retriever:
    def __init__(self, settings: Settings | None = None, store: Store | None = None, embedder: Embedder | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.embedder = embedder or get_embedder(self.settings)
        self.store = store or Store(self.settings, self.embedder)
        self._lexical: LexicalIndex | None = None
        self._lexical_fp: str | None = None
        self.lexical_origin: str | None = None  # "loaded" (a saved, current index) or "built"
        self._lock = threading.Lock()

    def lexical(self) -> LexicalIndex:
        """The BM25 index of the collection as it is now: the one in memory while the collection's
        fingerprint is unchanged, else a current one saved under KB_HOME, else built (and saved)."""
        with self._lock:
            fp = self.store.fingerprint()
            if self._lexical is None or fp != self._lexical_fp:
                self._lexical, self.lexical_origin = current_index(self.store, fp)
                self._lexical_fp = fp
            return self._lexical

    def idf(self, term: str) -> float:
        """Inverse document frequency of a (tokenized) term in the index last searched."""
        lex = self._lexical or self.lexical()
        return lex.idf(term)

    def search(self, query: str, k: int | None = None, source: str | None = None, mode: str = "hybrid") -> list[Passage]:
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode {mode!r} (one of {', '.join(MODES)})")
        k = self.settings.top_k if k is None else k
        if k < 1:
            raise ValueError(f"k must be 1 or more, not {k}")
        n = max(self.settings.candidates, k)
        lex = self.lexical()
        dense: list[tuple[str, float, str, dict[str, Any]]] = []
        if mode in ("hybrid", "dense"):
            qvec = self.embedder.embed([query])[0]
            dense = self.store.query(qvec, n, source=source)
        sparse: list[tuple[str, float]] = []
        if mode in ("hybrid", "bm25"):
            sparse = lex.search(query, n, source)

        fused: dict[str, float] = {}
        ranks: dict[str, dict[str, int]] = {}
        for name, ranked in (("dense", [d[0] for d in dense]), ("bm25", [s[0] for s in sparse])):
            for rank, cid in enumerate(ranked, start=1):
                fused[cid] = fused.get(cid, 0.0) + 1.0 / (self.settings.rrf_k + rank)
                ranks.setdefault(cid, {})[name] = rank
        top = sorted(fused, key=lambda c: -fused[c])[:k]
        sims = {d[0]: d[1] for d in dense}
        known = {d[0]: (d[2], d[3]) for d in dense}
        known.update(self.store.get([c for c in top if c not in known]))
        qterms = set(tokenize(query))
        passages = []
        for cid in top:
            text, meta = known[cid]
            p = passage_from(cid, text, meta, fused[cid])
            p.ranks = ranks[cid]
            p.similarity = sims.get(cid)
            pick_best_sentence(p, qterms, lex)
            passages.append(p)
        return passages


def sentence_score(sentence: Sentence, qterms: set[str], lex: LexicalIndex) -> float:
    terms = set(tokenize(sentence.text))
    matched = qterms & terms
    if not matched:
        return 0.0
    return sum(lex.idf(t) for t in matched) / math.sqrt(max(len(terms), 4) / 4)


def pick_best_sentence(p: Passage, qterms: set[str], lex: LexicalIndex) -> None:
    """Set the passage's best sentence and its citation time (the fragment where the match begins)."""
    if not p.sentences:
        p.best_sentence = p.text
        p.at_s = p.start_s
        return
    scored = [(sentence_score(s, qterms, lex), -i, s) for i, s in enumerate(p.sentences)]
    score, _, best = max(scored, key=lambda x: (x[0], x[1]))
    p.best_sentence = best.text
    p.best_locator = best.locator
    p.at_s = best.start_s
    if best.start_s is not None and best.marks and score > 0:
        lowered = best.text.lower()
        positions = [pos for pos, word in _word_positions(lowered) if _stem_in(word, qterms)]
        if positions:
            p.at_s = best.time_at(min(positions))


def _word_positions(text: str) -> list[tuple[int, str]]:
    return [(m.start(), m.group(0)) for m in re.finditer(r"[a-z0-9]+", text)]


def _stem_in(word: str, qterms: set[str]) -> bool:
    toks = tokenize(word)
    return bool(toks) and toks[0] in qterms

