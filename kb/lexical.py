"""Lexical side of retrieval: a BM25 index over the collection's chunks, tokenized by
`kb.tokens.tokenize` (the scores bm25s computes, built with numpy in one pass), saved under
KB_HOME and keyed by the collection's fingerprint.

`current_index(store)` returns the index for the collection as it is now: it loads (memory-maps)
a saved one when its fingerprint is current, else builds one from the collection and saves it.
The ingester calls it after writing, so searching processes find it current and only load it.
With a Chroma server every client keeps such a copy in its own KB_HOME, synchronised by the
fingerprint in the collection's metadata (see README, "Sharing one index"): the server has no
place for other files, and clients on other machines cannot read its disk.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from kb.tokens import tokenize, vocabulary_key

__all__ = ["FORMAT", "LexicalIndex", "bm25_matrix", "current_index", "index_folder"]

FORMAT = 9  # of the saved files and of `kb.tokens.tokenize`: part of the folder's key, so an index saved by older code is rebuilt; bump it when either changes
_EMPTY = "\u2205"  # stands in for a chunk with no indexable words


class LexicalIndex:
    """BM25 over chunk texts, plus document frequencies for scoring single sentences."""

    def __init__(self, ids: Sequence[str], texts: Sequence[str], sources: Sequence[str] = ()) -> None:
        batch = [(i, t, s) for i, t, s in zip(ids, texts, list(sources) or [""] * len(ids))]
        self._build([batch] if batch else [])

    @classmethod
    def from_batches(cls, batches: Iterable[Sequence[tuple[str, str, str]]]) -> LexicalIndex:
        """Build from (id, text, source) batches, so only one batch of texts is in memory at a time."""
        index = cls.__new__(cls)
        index._build(batches)
        return index

    def _build(self, batches: Iterable[Sequence[tuple[str, str, str]]]) -> None:
        from array import array

        import numpy as np

        vocab: dict[str, int] = {}
        flat = array("i")  # every chunk's token ids, one after the other
        lengths = array("i")
        ids: list[bytes] = []
        source_codes: dict[str, int] = {}
        codes = array("i")
        for batch in batches:
            for cid, text, source in batch:
                ids.append(cid.encode())
                codes.append(source_codes.setdefault(source or "", len(source_codes)))
                toks = [vocab.setdefault(t, len(vocab)) for t in (tokenize(text or "") or [_EMPTY])]
                flat.extend(toks)
                lengths.append(len(toks))
        matrix = bm25_matrix(np.frombuffer(flat, dtype=np.int32), np.frombuffer(lengths, dtype=np.int32), len(vocab))
        self._finish(np.array(ids, dtype="S") if ids else np.zeros(0, dtype="S1"),
                     np.frombuffer(codes, dtype=np.int32).copy(), list(source_codes), matrix, vocab)

    def _finish(self, ids: Any, codes: Any, sources: list[str], matrix: tuple[Any, Any, Any], vocab: dict[str, int]) -> None:
        import numpy as np

        self._ids, self._codes, self._sources = ids, codes, sources
        self._data, self._indices, self._indptr = matrix
        self.vocab = vocab
        self.n = len(ids)
        self._df = np.diff(np.asarray(self._indptr))
        self._rows: dict[str, int] | None = None

    @property
    def ids(self) -> list[str]:
        return [i.decode() for i in self._ids]

    def rows(self) -> dict[str, int]:
        """Each chunk id's row in the index (its place in `ids` and in a `scores` column), built once."""
        if self._rows is None:
            self._rows = {cid.decode(): row for row, cid in enumerate(self._ids)}
        return self._rows

    def sources_of(self, ids: Sequence[str]) -> dict[str, str]:
        """The source of each of `ids` the index holds."""
        rows = self.rows()
        return {c: self._sources[int(self._codes[rows[c]])] for c in ids if c in rows}

    def doc_freq(self, term: str) -> int:
        """Number of chunks containing `term` (a tokenized term)."""
        tid = self.vocab.get(term)
        return int(self._df[tid]) if tid is not None else 0

    def idf(self, term: str) -> float:
        df = self.doc_freq(term)
        return math.log(1 + (self.n - df + 0.5) / (df + 0.5))

    def scores(self, terms: Sequence[str]) -> Any:
        """BM25 score of every chunk for the (tokenized) query terms: a sum of precomputed columns."""
        import numpy as np

        out = np.zeros(self.n, dtype=np.float32)
        for t in terms:
            tid = self.vocab.get(t)
            if tid is not None:
                start, end = int(self._indptr[tid]), int(self._indptr[tid + 1])
                out[self._indices[start:end]] += self._data[start:end]  # a chunk appears once per column
        return out

    def search(self, query: str, n: int, source: str | None = None) -> list[tuple[str, float]]:
        """(chunk id, BM25 score) best first; only chunks of `source` when given.

        Only the chunks in the query terms' posting lists are scored (the others score 0), so a
        search costs what those lists hold, not the size of the index."""
        import numpy as np

        spans = [(int(self._indptr[tid]), int(self._indptr[tid + 1])) for tid in
                 [self.vocab[t] for t in tokenize(query) if t in self.vocab] if self._df[tid]]  # a repeated term counts again, as in bm25s
        if not spans or not self.n:
            return []
        rows = np.concatenate([self._indices[a:b] for a, b in spans])
        weights = np.concatenate([self._data[a:b] for a, b in spans])
        chunks, at = np.unique(rows, return_inverse=True)
        scores = np.bincount(at, weights=weights).astype(np.float32)
        if source is not None:
            if source not in self._sources:
                return []
            keep = self._codes[chunks] == self._sources.index(source)
            chunks, scores = chunks[keep], scores[keep]
        top = np.lexsort((chunks, -scores))[:n]  # best first; ties in index order
        return [(self._ids[chunks[i]].decode(), float(scores[i])) for i in top if scores[i] > 0]

    # --- on disk -------------------------------------------------------------------------------
    _ARRAYS = ("ids", "sources", "data", "indices", "indptr")

    def save(self, folder: Path) -> None:
        """Write the index into `folder` (created): numpy arrays, the vocabulary and the source names."""
        import numpy as np

        folder.mkdir(parents=True, exist_ok=True)
        for name, arr in zip(self._ARRAYS, (self._ids, self._codes, self._data, self._indices, self._indptr)):
            np.save(folder / f"{name}.npy", arr)
        (folder / "vocab.json").write_text(json.dumps(self.vocab, ensure_ascii=False), encoding="utf-8")
        (folder / "sources.json").write_text(json.dumps(self._sources, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, mmap: bool = True) -> LexicalIndex:
        """Read an index written by `save`; its arrays are memory-mapped."""
        import numpy as np

        index = cls.__new__(cls)
        ids, codes, data, indices, indptr = (np.load(folder / f"{n}.npy", mmap_mode="r" if mmap else None) for n in cls._ARRAYS)
        index._finish(ids, codes, json.loads((folder / "sources.json").read_text(encoding="utf-8")),
                      (data, indices, indptr), json.loads((folder / "vocab.json").read_text(encoding="utf-8")))
        return index


def bm25_matrix(tokens: Any, lengths: Any, n_terms: int, k1: float = 1.5, b: float = 0.75) -> tuple[Any, Any, Any]:
    """BM25 (the Lucene variant bm25s computes) of every (term, chunk), as a CSC matrix
    (data, indices = chunk numbers, indptr per term), from all chunks' token ids laid end to end."""
    import numpy as np

    n = len(lengths)
    if n == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int32), np.zeros(n_terms + 1, np.int64)
    chunk = np.repeat(np.arange(n, dtype=np.int64), lengths)
    pairs, tf = np.unique(tokens.astype(np.int64) * n + chunk, return_counts=True)  # sorted by term, then chunk
    term = pairs // n
    rows = (pairs - term * n).astype(np.int32)
    df = np.bincount(term, minlength=n_terms)
    indptr = np.concatenate([[0], np.cumsum(df)]).astype(np.int64)
    idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
    norm = k1 * ((1 - b) + b * lengths[rows] / lengths.mean())
    data = (idf[term] * tf / (norm + tf)).astype(np.float32)
    return data, rows, indptr


def index_folder(settings: Any, collection: str) -> Path:
    """Where the saved indexes of one collection (in one store) live under KB_HOME."""
    where = settings.chroma_url or str(Path(settings.chroma_path).resolve())
    return Path(settings.home) / "lexical" / f"{collection}-{hashlib.sha1(where.encode()).hexdigest()[:8]}"


def current_index(store: Any, fingerprint: str | None = None) -> tuple[LexicalIndex, str]:
    """The BM25 index of `store`'s collection as it is now, and whether it was "loaded" or "built".

    A saved index whose fingerprint is current is loaded; otherwise one is built from the
    collection and saved (older ones are removed). A collection that has never recorded a
    fingerprint (written without `Store.bump_fingerprint`) is built and not saved.
    """
    from kb.store import UNMARKED

    fp = store.fingerprint() if fingerprint is None else fingerprint
    base = index_folder(store.settings, store.name)
    marker = not fp.startswith(UNMARKED)
    folder = base / hashlib.sha1(f"{FORMAT}:{vocabulary_key()}:{fp}".encode()).hexdigest()[:16]
    if marker and (folder / "done").is_file():
        try:
            return LexicalIndex.load(folder), "loaded"
        except (OSError, ValueError):  # damaged, or removed meanwhile: build it again
            shutil.rmtree(folder, ignore_errors=True)
    index = LexicalIndex.from_batches(store.iter_chunks())
    if marker:
        _save_atomically(index, base, folder)
    return index, "built"


def _save_atomically(index: LexicalIndex, base: Path, folder: Path) -> None:
    try:
        base.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=base))
        index.save(tmp)
        (tmp / "done").write_text("")
        try:
            os.rename(tmp, folder)
        except OSError:  # another process saved the same fingerprint first
            shutil.rmtree(tmp, ignore_errors=True)
        for old in base.iterdir():  # older fingerprints, and temporary folders of killed processes
            stale = not old.name.startswith(".tmp-") or time.time() - old.stat().st_mtime > 3600
            if old.name != folder.name and stale:
                shutil.rmtree(old, ignore_errors=True)
    except OSError:
        pass  # a read-only KB_HOME: the index still serves this process
