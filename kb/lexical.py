"""Lexical side of retrieval: a tokenizer with light stemming, and a BM25 index (bm25s) over the
collection's chunks, rebuilt whenever the collection's fingerprint changes."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been being it its
    this that these those i you he she we they them his her our your their my me us do does did done
    have has had having not no so than then there here what which who whom whose when where why how
    can could would should will shall may might must about into over under up down out just also very
    uh um like yeah right okay mhm oh well really say said says tell told know think going get got
    one some any all more most much many such only own same too s t don didn isn wasn""".split()
)
_WORD = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*")
_ALIASES = {"gawatt": "gigawatt", "gigawatts": "gigawatt", "gw": "gigawatt", "gpus": "gpu", "cpus": "cpu"}


def stem(word: str) -> str:
    """A deliberately light stemmer: plurals and a few verb endings, so 'GPUs' meets 'GPU'."""
    word = _ALIASES.get(word, word)
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", "e"), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)] + repl
    return word


def tokenize(text: str) -> list[str]:
    """Lowercase word stems without stopwords."""
    words = (re.sub(r"'s?$", "", w) for w in _WORD.findall(text.lower().replace("’", "'")))  # "openai's" -> "openai"
    return [stem(w) for w in words if w and w not in STOPWORDS]


class LexicalIndex:
    """BM25 over chunk texts, plus document frequencies for scoring single sentences."""

    def __init__(self, ids: Sequence[str], texts: Sequence[str], sources: Sequence[str] = ()) -> None:
        import bm25s

        self.ids = list(ids)
        self.sources = list(sources) or [""] * len(self.ids)
        tokens = [tokenize(t) for t in texts]
        self.df: Counter[str] = Counter()
        for toks in tokens:
            self.df.update(set(toks))
        self.n = len(tokens)
        self._bm25 = bm25s.BM25()
        if tokens:
            self._bm25.index([t or ["\u2205"] for t in tokens], show_progress=False)

    def idf(self, term: str) -> float:
        df = self.df.get(term, 0)
        return math.log(1 + (self.n - df + 0.5) / (df + 0.5))

    def search(self, query: str, n: int, source: str | None = None) -> list[tuple[str, float]]:
        """(chunk id, BM25 score) best first; only chunks of `source` when given."""
        q = [t for t in tokenize(query) if t in self.df]
        if not q or not self.ids:
            return []
        scores = self._bm25.get_scores(q)
        order = scores.argsort()[::-1]
        out = []
        for i in order:
            if scores[i] <= 0:
                break
            if source is None or self.sources[int(i)] == source:
                out.append((self.ids[int(i)], float(scores[i])))
                if len(out) >= n:
                    break
        return out
