"""Hybrid retrieval: dense (Chroma) and BM25 candidate lists fused into one ranking, then, inside
each passage, the sentence that best supports the query; its time is the citation.

`Retriever.search(query, k, source, mode)` — mode `hybrid` (default), `dense` or `bm25`.

Fusion (`KB_FUSION`). `rank` (the default): weighted reciprocal rank fusion. `score`: every
candidate of either list gets both scores (its cosine similarity and its BM25 score; a chunk only
one list found is scored by the other as well), each standardised over the candidates (z-scores),
and the fused score is their weighted mean (`SCORE_BM25_SHARE` for BM25). Ranks throw away the
margin: a chunk BM25 puts first by far (the only one holding a rare name of the question) counts
as much as a narrow first, and a chunk ranked first by one list and missing from the other's top
candidates loses to chunks both lists rank middling — most often when the two lists each pick a
different one of two overlapping windows of the same moment. On the dev sets (BENCHMARKS.md ¹²)
score fusion raised recall@5 and MRR on all of them, but the offline answers gained nothing and
lost citation precision (the extra places it brings give the answer step more to stray to), so
it is a setting for search, not the default.

Document pass: over a whole index (no `source`), many look-alike documents compete (four meetings
of one team, say). Each retriever's ranked list is then taken deeper (`DOC_POOL` x the candidates)
and every document gets a score from it — its best chunk's rank in each list, fused by reciprocal
rank like the chunks — and a chunk's fused score is raised by `doc_weight` x its document's score,
so passages of the documents that match the query best come first. It is off by default
(`DOC_WEIGHT = 0`): on QMSum's dev meetings weight 1 raised recall@5 over the whole index from
0.523 to 0.545, but on the reported meetings it went from 0.557 to 0.530 (BENCHMARKS.md), so it
does not generalise; `Retriever(doc_weight=1.0)` turns it on for such measurements. (Measured with
rank fusion: a document score is on the reciprocal-rank scale, small beside standardised scores.)
"""

from __future__ import annotations

import math
import re
import threading
from typing import Any

from kb.embeddings import Embedder, get_embedder
from kb.lexical import LexicalIndex, current_index
from kb.passages import group_hits, merged_passage
from kb.settings import Settings
from kb.store import Store
from kb.tokens import tokenize
from kb.types import Passage, Sentence

MODES = ("hybrid", "dense", "bm25")
# Weighted reciprocal rank fusion: a BM25 rank counts this much more than the same dense rank.
# Transcripts are spoken and disfluent, and questions name their topic in the words used; the
# dense model (MiniLM, 256 tokens) blurs rare terms. Measured on the dev questions only (QMSum's
# 13 dev meetings scoped and unscoped, kb.jsonl, dev.jsonl), sweeping RRF k 30/60/100 and this
# weight 1-3: from 1.5 up, recall@5 over the whole QMSum index rose (0.523 -> 0.568) for every k,
# MRR rose a little on all four sets, and scoped recall@5 was unchanged at 1.5 (fell from 2).
BM25_WEIGHT = 1.5
DOC_WEIGHT = 0.0  # the document pass is measured, not on: see the module docstring
DOC_POOL = 4
# BM25's weight in score fusion (the dense similarity has the rest). Measured on the dev sets at
# 0.5 / 0.6 (and min-max scaling instead of z-scores at 0.4-0.7): 0.5 with z-scores best overall.
SCORE_BM25_SHARE = 0.5


class Retriever:
    def __init__(self, settings: Settings | None = None, store: Store | None = None, embedder: Embedder | None = None,
                 doc_weight: float = DOC_WEIGHT) -> None:
        self.settings = settings or Settings.from_env()
        self.doc_weight = doc_weight
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

    def _owners(self, ids: list[str], lex: LexicalIndex) -> dict[str, str]:
        """The source of each BM25 hit (from the lexical index, else the store)."""
        owners = lex.sources_of(ids)
        missing = [c for c in ids if c not in owners]
        if missing:
            owners.update({c: str(meta.get("source", "")) for c, (_, meta) in self.store.get(missing).items()})
        return owners

    def _both_scores(self, qvec: Any, query: str, dense: list[tuple[str, float, str, dict[str, Any]]],
                     sparse: list[tuple[str, float]], lex: LexicalIndex
                     ) -> tuple[dict[str, float], dict[str, float], dict[str, tuple[str, dict[str, Any]]]]:
        """Each candidate's cosine similarity and BM25 score, whichever list found it: the stored
        vectors of the BM25-only candidates, the BM25 column sums of the dense-only ones. Also the
        text and metadata of the BM25-only candidates, read with their vectors."""
        import numpy as np

        sims = {d[0]: d[1] for d in dense}
        bm25 = dict(sparse)
        hits: dict[str, tuple[str, dict[str, Any]]] = {}
        unseen = [c for c in bm25 if c not in sims]
        if unseen:
            ids, texts, vectors, metas = self.store.records(unseen)
            q = np.asarray(qvec, dtype=np.float32)
            q /= float(np.linalg.norm(q)) or 1.0
            for cid, text, v, meta in zip(ids, texts, np.asarray(vectors, dtype=np.float32).reshape(len(ids), -1), metas):
                sims[cid] = float(v @ q) / (float(np.linalg.norm(v)) or 1.0)
                hits[cid] = (text, meta)
        unscored = [c for c in sims if c not in bm25]
        if unscored:
            column = lex.scores(tokenize(query))
            rows = lex.rows()
            bm25.update({c: float(column[rows[c]]) if c in rows else 0.0 for c in unscored})
        return sims, bm25, hits

    def idf(self, term: str) -> float:
        """Inverse document frequency of a (tokenized) term in the index last searched."""
        lex = self._lexical or self.lexical()
        return lex.idf(term)

    def search(self, query: str, k: int | None = None, source: str | None = None, mode: str = "hybrid") -> list[Passage]:
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode {mode!r} (one of {', '.join(MODES)})")
        k = self.settings.retrieval.top_k if k is None else k
        if k < 1:
            raise ValueError(f"k must be 1 or more, not {k}")
        n = max(self.settings.retrieval.candidates, k)
        doc_pass = source is None and self.doc_weight > 0
        pool = n * DOC_POOL if doc_pass else n
        lex = self.lexical()
        dense: list[tuple[str, float, str, dict[str, Any]]] = []
        if mode in ("hybrid", "dense"):
            qvec = self.embedder.embed([query])[0]
            dense = self.store.query(qvec, pool, source=source)
        sparse: list[tuple[str, float]] = []
        if mode in ("hybrid", "bm25"):
            sparse = lex.search(query, pool, source)

        lists = {"dense": [d[0] for d in dense], "bm25": [s[0] for s in sparse]}
        fused: dict[str, float] = {}
        ranks: dict[str, dict[str, int]] = {}
        for name, ranked in lists.items():
            weight = BM25_WEIGHT if name == "bm25" else 1.0
            for rank, cid in enumerate(ranked, start=1):
                fused[cid] = fused.get(cid, 0.0) + weight / (self.settings.retrieval.rrf_k + rank)
                ranks.setdefault(cid, {})[name] = rank
        sims = {d[0]: d[1] for d in dense}
        known = {d[0]: (d[2], d[3]) for d in dense}
        if self.settings.retrieval.fusion == "score" and dense and sparse:
            sims, bm25, hits = self._both_scores(qvec, query, dense, sparse, lex)
            known.update(hits)
            fused = score_fusion(sims, bm25, SCORE_BM25_SHARE)
        if doc_pass:
            owner = {d[0]: str(d[3].get("source", "")) for d in dense}
            owner.update(self._owners([c for c in lists["bm25"] if c not in owner], lex))
            docs = document_scores(lists, owner, self.settings.retrieval.rrf_k)
            for cid in fused:
                fused[cid] += self.doc_weight * docs.get(owner.get(cid, ""), 0.0)
        ranked = sorted(fused, key=lambda c: -fused[c])

        def fetch(ids: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
            missing = [c for c in ids if c not in known]
            if missing:
                known.update(self.store.get(missing))
            return {c: known[c] for c in ids if c in known}

        qterms = set(tokenize(query))
        passages = []
        for group in group_hits(ranked, fetch, k, window=2 * k):
            cid = group[0][0]
            p = merged_passage(group, fused[cid])
            p.ranks = ranks[cid]
            p.similarity = sims.get(cid)
            pick_best_sentence(p, qterms, lex)
            passages.append(p)
        return passages


def score_fusion(sims: dict[str, float], bm25: dict[str, float], bm25_share: float) -> dict[str, float]:
    """The weighted mean of each candidate's standardised similarity and BM25 score (every candidate
    in both dicts): z-scores over the candidates, so neither scale decides by its spread alone."""
    ids = list(sims)

    def standard(values: list[float]) -> list[float]:
        mean = sum(values) / len(values)
        spread = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
        return [(v - mean) / spread if spread else 0.0 for v in values]

    dense = standard([sims[c] for c in ids])
    lexical = standard([bm25.get(c, 0.0) for c in ids])
    return {c: bm25_share * b + (1 - bm25_share) * d for c, d, b in zip(ids, dense, lexical)}


def document_scores(lists: dict[str, list[str]], owner: dict[str, str], rrf_k: int) -> dict[str, float]:
    """A score per document: reciprocal rank fusion of where its best chunk ranks in each list."""
    scores: dict[str, float] = {}
    for ranked in lists.values():
        seen: set[str] = set()
        for cid in ranked:
            doc = owner.get(cid, "")
            if doc and doc not in seen:
                seen.add(doc)
                scores[doc] = scores.get(doc, 0.0) + 1.0 / (rrf_k + len(seen))
    return scores


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

