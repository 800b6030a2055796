"""The retrieval most tutorials build, as a peer to compare against: 1,000-character chunks with
200 overlap from LangChain's `RecursiveCharacterTextSplitter`, the same embedding model, top 4.
It has no sentence re-flow and no BM25; a chunk's times are the first and last `[mm:ss]` in it."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kb.embeddings import get_embedder
from kb.settings import Settings
from kb.store import Store
from kb.timecode import TimecodeError, find_stamps, parse_timecode, split_stamp
from kb.types import Passage, Sentence

TOP_K = 4


def _sentences(text: str) -> tuple[Sentence, ...]:
    out = []
    for n, line in enumerate(ln.strip() for ln in text.splitlines()):
        if not line:
            continue
        stamp = split_stamp(line)
        if stamp:
            try:
                out.append(Sentence(text=stamp[1], start_s=parse_timecode(stamp[0])))
                continue
            except TimecodeError:
                pass
        out.append(Sentence(text=line, locator=f"line {n + 1}"))
    return tuple(out)


class NaiveRetriever:
    def __init__(self, settings: Settings, paths: Sequence[Path], fingerprint: str = "") -> None:
        self.settings = settings
        self.embedder = get_embedder(settings)
        self.store = Store(settings.with_(collection_prefix="naive"), self.embedder)
        built_for = str((self.store.collection.metadata or {}).get("kb_corpus", ""))
        if self.store.count() == 0 or built_for != fingerprint:  # rebuilt when the main corpus changed
            self.store.delete(self.store.all_chunks()[0])
            self._build(paths)
            meta = {k: v for k, v in (self.store.collection.metadata or {}).items() if k != "hnsw:space"}
            self.store.collection.modify(metadata={**meta, "kb_corpus": fingerprint})

    def _build(self, paths: Sequence[Path]) -> None:
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
        ids, docs, metas = [], [], []
        for path in paths:
            text = path.read_text(encoding="utf-8")
            for i, piece in enumerate(splitter.split_text(text)):
                stamps = find_stamps(piece)
                meta: dict[str, Any] = {"source": path.stem, "title": path.stem, "ordinal": i}
                if stamps:
                    meta.update(start_s=min(stamps), end_s=max(stamps))
                ids.append(hashlib.sha256(f"{path.stem}|{i}|{piece}".encode()).hexdigest()[:32])
                docs.append(piece)
                metas.append(meta)
        vectors = self.embedder.embed(docs)
        col = self.store.collection
        for i in range(0, len(ids), 500):
            col.upsert(ids=ids[i : i + 500], documents=docs[i : i + 500], embeddings=vectors[i : i + 500], metadatas=metas[i : i + 500])

    def search(self, query: str, k: int | None = None, source: str | None = None, mode: str = "naive") -> list[Passage]:
        hits = self.store.query(self.embedder.embed([query])[0], TOP_K, source=source)
        out = []
        for cid, sim, text, meta in hits:
            sentences = _sentences(text)
            p = Passage(chunk_id=cid, source=meta["source"], title=meta.get("title", ""), text=text, score=sim,
                        sentences=sentences, start_s=meta.get("start_s"), end_s=meta.get("end_s"), similarity=sim)
            p.best_sentence = sentences[0].text if sentences else text
            p.at_s = sentences[0].start_s if sentences else None
            out.append(p)
        return out
