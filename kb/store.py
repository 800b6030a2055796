"""The Chroma store: an embedded persistent index under KB_HOME, or a `chroma run` server.

Chunks are stored with content-derived ids and their metadata (source, title, times, sentences as
JSON, the document's content hash). The collection's name is derived from the embedding settings,
so changing the model, chunk size or overlap builds a new index instead of mixing vectors. After
each change, ingest bumps a fingerprint in the collection's metadata, which keeps the BM25 index
(built from the collection) in step with it, also across processes and machines.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from kb.errors import IndexEmpty, StoreUnavailable
from kb.settings import Settings
from kb.types import Chapter, Chunk, Document, Passage, sentence_from_json, sentence_to_json

UNMARKED = "unmarked/"  # fingerprint prefix of a collection written without bump_fingerprint
WRITE_BATCH = 2000  # records per Chroma request (below its maximum batch size)


@dataclass(frozen=True)
class SourceInfo:
    source: str
    title: str
    path: str
    chunks: int
    ingested_at: float
    content_hash: str
    url: str | None
    kind: str
    published: str | None = None
    feed: str | None = None
    chapters: tuple[Chapter, ...] = field(default=())


@dataclass(frozen=True)
class StoredDocument:
    chunk_hashes: dict[str, str]  # {chunk id: content hash of the document version that wrote it}
    path: str | None  # where that version was read from; None when the document is not stored


def collection_name(settings: Settings) -> str:
    """e.g. `kb-all-minilm-l6-v2-t200-o32`: the embedding settings name the collection."""
    model = settings.embedding.model.rstrip("/").split("/")[-1].lower()
    slug = re.sub(r"[^a-z0-9]+", "-", model).strip("-")[:40] or "model"
    if "/" in settings.embedding.model.strip("/") and not settings.embedding.model.startswith("sentence-transformers/"):
        slug += "-" + hashlib.sha1(settings.embedding.model.encode()).hexdigest()[:6]
    return f"{settings.collection_prefix}-{slug}-t{settings.chunking.tokens}-o{settings.chunking.overlap_tokens}"


# Chroma clients are not safe to open from two threads at once (a question and a warm-up: the second
# PersistentClient of a folder can find the first one half started); opening is one at a time
# (re-entrant: opening the collection opens the client).
_OPENING = threading.RLock()


def _client(settings: Settings) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        u = urlparse(settings.chroma_url)
        if not u.hostname:
            raise StoreUnavailable(f"KB_CHROMA_URL={settings.chroma_url!r} is not a URL like http://host:8000")
        _probe(settings.chroma_url, settings.chroma_timeout_s)
        try:
            return chromadb.HttpClient(
                host=u.hostname, port=u.port or (443 if u.scheme == "https" else 8000),
                ssl=u.scheme == "https", settings=chroma_settings,
            )
        except Exception as exc:  # chromadb raises plain ValueError/ConnectError when the server is down
            raise StoreUnavailable(f"cannot reach the Chroma server at {settings.chroma_url}: {_reason(exc)}") from None
    settings.chroma_path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)


def _probe(url: str, timeout_s: float) -> None:
    """Fail fast, naming the URL, when the server does not answer: Chroma's own client waits forever."""
    import httpx

    try:
        httpx.get(url.rstrip("/") + "/api/v2/heartbeat", timeout=timeout_s)
    except httpx.TimeoutException:
        raise StoreUnavailable(f"the Chroma server at {url} did not answer within {timeout_s:g} s "
                               "(KB_CHROMA_TIMEOUT_S); is it running, and is that its address?") from None
    except httpx.HTTPError as exc:
        raise StoreUnavailable(f"cannot reach the Chroma server at {url}: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


class Store:
    """The chunk collection for one set of embedding settings."""

    def __init__(self, settings: Settings, embedder: Any = None, client: Any = None) -> None:
        self.settings = settings
        self.name = collection_name(settings)
        self._embedder = embedder
        self._client = client
        self._collection: Any = None

    @property
    def where(self) -> str:
        return self.settings.chroma_url or str(self.settings.chroma_path)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except StoreUnavailable:
            raise
        except Exception as exc:
            if self.settings.chroma_url and _is_connection_error(exc):
                raise StoreUnavailable(f"cannot reach the Chroma server at {self.settings.chroma_url}: {_reason(exc)}") from None
            raise

    @property
    def collection(self) -> Any:
        if self._collection is None:
            with _OPENING:
                if self._collection is None:
                    self._collection = self._open_collection()
        return self._collection

    def _opened_client(self) -> Any:
        """The Chroma client, opened on first use (one thread at a time: `_OPENING`)."""
        with _OPENING:
            if self._client is None:
                self._client = _client(self.settings)
            return self._client

    def _open_collection(self) -> Any:
        from kb.embeddings import KBEmbeddingFunction

        ef = KBEmbeddingFunction(self._embedder, model=self.settings.embedding.model, device=self.settings.embedding.device)
        return self._call(
            self._opened_client().get_or_create_collection,
            name=self.name,
            embedding_function=ef,
            metadata={"hnsw:space": "cosine", "embedding_model": self.settings.embedding.model,
                      "chunk_tokens": self.settings.chunking.tokens,
                      "chunk_overlap_tokens": self.settings.chunking.overlap_tokens},
        )

    def exists(self) -> bool:
        """Whether the collection exists already (without creating it)."""
        names = self._call(self._opened_client().list_collections)
        return self.name in {getattr(c, "name", c) for c in names}

    def count(self) -> int:
        return int(self._call(self.collection.count))

    def require_documents(self) -> None:
        """Raise IndexEmpty ("run kb ingest") when the index has no documents yet."""
        if self.count() == 0:
            raise IndexEmpty(f"the index at {self.where} is empty: run `kb ingest` first")

    # --- writing -------------------------------------------------------------------------------
    def stored(self, source: str) -> StoredDocument:
        """What the index holds of one document, read in one request."""
        got = self._call(self.collection.get, where={"source": source}, include=["metadatas"])
        metas = [m or {} for m in got["metadatas"]]
        return StoredDocument({i: m.get("doc_hash", "") for i, m in zip(got["ids"], metas)},
                              metas[0].get("path") if metas else None)

    def add(self, chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]], doc_hash: str, path: str, kind: str,
            doc_meta: Mapping[str, Any] | None = None) -> None:
        """Write chunks; `doc_meta` (see `document_metadata`) is stored with each of them."""
        if not chunks:
            return
        now = time.time()
        metas = [{**chunk_metadata(c, doc_hash, path, kind, now, len(chunks)), **(doc_meta or {})} for c in chunks]
        import numpy as np

        self._forget_listing()
        self._call(self.collection.upsert, ids=[c.id for c in chunks], documents=[c.text for c in chunks],
                   embeddings=np.asarray(embeddings, dtype=np.float32), metadatas=metas)

    def mark_current(self, ids: Sequence[str], doc_hash: str, path: str, n_chunks: int,
                     doc_meta: Mapping[str, Any] | None = None) -> None:
        """Point kept chunks at the new document version (their text did not change)."""
        meta = {"doc_hash": doc_hash, "path": path, "doc_chunks": n_chunks, "ingested_at": time.time(), **(doc_meta or {})}
        ids = list(ids)
        if ids:
            self._forget_listing()
        for i in range(0, len(ids), WRITE_BATCH):
            part = ids[i : i + WRITE_BATCH]
            self._call(self.collection.update, ids=part, metadatas=[dict(meta) for _ in part])

    def write(self, ids: Sequence[str], documents: Sequence[str], embeddings: Sequence[Sequence[float]],
              metadatas: Sequence[dict[str, Any]]) -> None:
        """Upsert prepared records (ids, texts, vectors, metadata), in requests Chroma accepts."""
        if len(ids):
            self._forget_listing()
        for i in range(0, len(ids), WRITE_BATCH):
            j = i + WRITE_BATCH
            self._call(self.collection.upsert, ids=list(ids[i:j]), documents=list(documents[i:j]),
                       embeddings=[list(e) for e in embeddings[i:j]], metadatas=list(metadatas[i:j]))

    def records(self, ids: Sequence[str]) -> tuple[list[str], list[str], list[list[float]], list[dict[str, Any]]]:
        """The stored records of `ids` with their vectors: (ids, texts, vectors, metadata)."""
        got = self._call(self.collection.get, ids=list(ids), include=["documents", "embeddings", "metadatas"])
        return (list(got["ids"]), list(got["documents"]), [list(map(float, e)) for e in got["embeddings"]],
                [dict(m or {}) for m in got["metadatas"]])

    def ids(self, where: dict[str, Any]) -> list[str]:
        """Ids of the chunks whose metadata matches `where` (a light read: no texts, no metadata)."""
        return list(self._call(self.collection.get, where=where, include=[])["ids"])

    def peek(self, where: dict[str, Any]) -> dict[str, Any] | None:
        """The metadata of one chunk matching `where`, or None."""
        got = self._call(self.collection.get, where=where, limit=1, include=["metadatas"])
        return dict(got["metadatas"][0] or {}) if got["ids"] else None

    def delete(self, ids: Iterable[str]) -> int:
        ids = list(ids)
        if ids:
            self._forget_listing()
        for i in range(0, len(ids), WRITE_BATCH):
            self._call(self.collection.delete, ids=ids[i : i + WRITE_BATCH])
        return len(ids)

    def _forget_listing(self) -> None:
        """Before a write: the source catalogue no longer describes the collection (kb/catalogue.py;
        ingest writes a current one after it records the new fingerprint)."""
        from kb.catalogue import forget

        forget(self.settings, self.name)

    def bump_fingerprint(self) -> str:
        """Record that the collection changed (read by the BM25 index to stay in step)."""
        fp = f"{time.time():.6f}-{self.count()}"
        meta = dict(self.collection.metadata or {})
        meta.pop("hnsw:space", None)
        meta["kb_fingerprint"] = fp
        self._call(self.collection.modify, metadata=meta)
        return fp

    def fingerprint(self) -> str:
        """The collection's change marker (re-read from the store, so other writers are seen).

        One metadata read per call; the chunk count (a slow call on a big collection) is read only
        for a collection that has never recorded a marker: `UNMARKED` + its count."""
        col = self._call(self._client.get_collection, name=self.name) if self._client is not None else self.collection
        self._collection = self._collection or col
        marker = str((col.metadata or {}).get("kb_fingerprint", ""))
        return marker or f"{UNMARKED}{self._call(col.count)}"

    # --- reading -------------------------------------------------------------------------------
    def all_chunks(self, batch: int = 5000) -> tuple[list[str], list[str], list[dict[str, Any]]]:
        ids: list[str] = []
        docs: list[str] = []
        metas: list[dict[str, Any]] = []
        for got in self._pages(batch):
            ids += got["ids"]
            docs += got["documents"]
            metas += got["metadatas"]
        return ids, docs, metas

    def iter_chunks(self, batch: int = 5000) -> Iterator[list[tuple[str, str, str]]]:
        """Every chunk as (id, text, source), a page at a time (memory bounded by the page)."""
        for got in self._pages(batch):
            yield [(i, d or "", (m or {}).get("source", "")) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"])]

    def _pages(self, batch: int) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            got = self._call(self.collection.get, include=["documents", "metadatas"], limit=batch, offset=offset)
            yield got
            if len(got["ids"]) < batch:
                return
            offset += batch

    def refresh_lexical(self) -> str:
        """Build and save the BM25 index for the collection as it is now, unless a current one is
        saved already (call after writing; searching processes then load it). Returns "built" or "loaded"."""
        from kb.lexical import current_index

        return current_index(self)[1]

    def query(self, embedding: Sequence[float], n: int, source: str | None = None) -> list[tuple[str, float, str, dict[str, Any]]]:
        """Nearest chunks: (id, cosine similarity, text, metadata), best first (fewer when the index holds fewer)."""
        got = self._call(
            self.collection.query, query_embeddings=[list(embedding)], n_results=n,
            where={"source": source} if source else None, include=["documents", "metadatas", "distances"],
        )
        return [(i, 1.0 - float(d), doc, meta or {}) for i, d, doc, meta in
                zip(got["ids"][0], got["distances"][0], got["documents"][0], got["metadatas"][0])]

    def get(self, ids: Sequence[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        if not ids:
            return {}
        got = self._call(self.collection.get, ids=list(ids), include=["documents", "metadatas"])
        return {i: (doc, meta or {}) for i, doc, meta in zip(got["ids"], got["documents"], got["metadatas"])}

    def sources(self) -> list[SourceInfo]:
        got = self._call(self.collection.get, include=["metadatas"])
        by_source: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for m in got["metadatas"]:
            by_source[(m or {}).get("source", "?")].append(m or {})
        out = []
        for source, metas in sorted(by_source.items()):
            m = max(metas, key=lambda x: x.get("ingested_at", 0))
            out.append(SourceInfo(source, m.get("title", source), m.get("path", ""), len(metas),
                                  float(m.get("ingested_at", 0)), m.get("doc_hash", ""), m.get("url") or None, m.get("kind", ""),
                                  m.get("published") or None, m.get("feed") or None, chapters_from_metadata(m)))
        return out


def _is_connection_error(exc: Exception) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return any(w in text for w in ("connect", "connection", "timed out", "timeout", "refused", "unreachable"))


def chunk_metadata(c: Chunk, doc_hash: str, path: str, kind: str, now: float, n_chunks: int) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "source": c.source, "title": c.title, "ordinal": c.ordinal, "doc_hash": doc_hash, "path": path,
        "kind": kind, "ingested_at": now, "doc_chunks": n_chunks,
        "sentences": json.dumps([sentence_to_json(s) for s in c.sentences], ensure_ascii=False),
    }
    for key, value in (("url", c.url), ("start_s", c.start_s), ("end_s", c.end_s), ("locator", c.locator)):
        if value is not None:
            meta[key] = value
    return meta


def document_metadata(doc: Document) -> dict[str, Any]:
    """A document's own fields stored with each of its chunks: chapters (JSON), published, feed.
    Always all three keys, so a new version that lost one overwrites the old value."""
    return {
        "chapters": json.dumps([[c.start_s, c.title] for c in doc.chapters], ensure_ascii=False),
        "published": doc.published or "",
        "feed": doc.feed or "",
    }


def chapters_from_metadata(meta: Mapping[str, Any]) -> tuple[Chapter, ...]:
    try:
        return tuple(Chapter(float(t), str(title)) for t, title in json.loads(meta.get("chapters") or "[]"))
    except (ValueError, TypeError):
        return ()


def passage_from(chunk_id: str, text: str, meta: dict[str, Any], score: float) -> Passage:
    """A search hit from a stored chunk."""
    sentences = tuple(sentence_from_json(d) for d in json.loads(meta.get("sentences") or "[]"))
    return Passage(
        chunk_id=chunk_id, source=meta.get("source", "?"), title=meta.get("title", ""), text=text, score=score,
        sentences=sentences, url=meta.get("url"), start_s=meta.get("start_s"), end_s=meta.get("end_s"),
        locator=meta.get("locator"),
    )
