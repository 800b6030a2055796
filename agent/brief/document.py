"""One stored document, read back from the index: its sentences in order (the chunks' overlap
removed), its chunks with their stored embeddings, and where each sentence sits.

Briefs are built from what the index holds, so a brief cites exactly what answers cite, and a
document whose file moved or is gone still has one.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from kb.errors import UnknownSource  # noqa: F401  (one error for an unknown document id)
from kb.store import Store
from kb.timecode import format_timecode
from kb.types import Sentence, sentence_from_json, video_link


@dataclass(frozen=True)
class Block:
    """A stored chunk: the range of document sentences it covers and its embedding."""

    ordinal: int
    first: int  # index of its first sentence in Episode.sentences
    last: int  # index of its last sentence (inclusive)
    embedding: tuple[float, ...]


@dataclass(frozen=True)
class Episode:
    source: str
    title: str
    url: str | None
    doc_hash: str
    ingested_at: float
    path: str
    sentences: tuple[Sentence, ...]
    blocks: tuple[Block, ...]

    @property
    def timed(self) -> bool:
        return any(s.start_s is not None for s in self.sentences)

    def at(self, i: int, seconds: float | None = None) -> tuple[str, float | None, str | None]:
        """(label, seconds, url) of sentence `i` (`10:31`; `¶3` for untimed text)."""
        s = self.sentences[i]
        t = s.start_s if seconds is None else seconds
        if t is not None:
            return format_timecode(t), float(t), video_link(self.url, t)
        return s.locator or "¶1", None, self.url

    @property
    def duration_s(self) -> float:
        times = [s.start_s for s in self.sentences if s.start_s is not None]
        return float(max(times) - min(times)) if times else 0.0


def close_matches(source: str, known: list[str]) -> list[str]:
    """Ids that look like `source`: containing it, or similar by spelling."""
    low = source.lower()
    near = [k for k in known if low in k.lower()]
    near += [k for k in difflib.get_close_matches(source, known, n=5, cutoff=0.4) if k not in near]
    return near[:5]


def resolve_source(store: Store, source: str) -> str:
    """The document id `source` names: itself, or the one id that starts with / contains it."""
    return resolve_id(source, sorted({s.source for s in store.sources()}))


def resolve_id(source: str, known: list[str]) -> str:
    """`resolve_source` among the ids `known` (sorted); UnknownSource, listing close matches, if none."""
    if source in known:
        return source
    containing = [k for k in known if source.lower() in k.lower()]
    if len(containing) == 1:
        return containing[0]
    near = close_matches(source, known)
    hint = f"; close matches: {', '.join(near)}" if near else f"; documents: {', '.join(known[:8])}"
    raise UnknownSource(f"no document {source!r} in the index{hint}")


def load_episode(store: Store, source: str) -> Episode:
    """The document `source` as the index stores it (UnknownSource if it is not there)."""
    got = store.collection.get(where={"source": source}, include=["metadatas", "embeddings"])
    if not got["ids"]:
        raise UnknownSource(f"no document {source!r} in the index")
    rows = sorted(zip(got["metadatas"], got["embeddings"]), key=lambda r: int((r[0] or {}).get("ordinal", 0)))
    sentences: list[Sentence] = []
    blocks: list[Block] = []
    for meta, emb in rows:
        chunk = [sentence_from_json(d) for d in json.loads(meta.get("sentences") or "[]")]
        skip = _overlap(sentences, chunk)
        first = len(sentences) - skip
        sentences.extend(chunk[skip:])
        blocks.append(Block(int(meta.get("ordinal", 0)), first, len(sentences) - 1, tuple(float(x) for x in emb)))
    meta = max((m for m, _ in rows), key=lambda m: m.get("ingested_at", 0))
    return Episode(source=source, title=meta.get("title", source), url=meta.get("url") or None,
                   doc_hash=meta.get("doc_hash", ""), ingested_at=float(meta.get("ingested_at", 0)), path=meta.get("path", ""),
                   sentences=tuple(sentences), blocks=tuple(blocks))


def doc_hash(store: Store, source: str) -> str | None:
    """The content hash of the stored version of `source` (cheap: metadata of one chunk)."""
    got = store.collection.get(where={"source": source}, include=["metadatas"], limit=1)
    return (got["metadatas"][0] or {}).get("doc_hash", "") if got["ids"] else None


def _key(s: Sentence) -> Any:
    return (s.text, s.start_s, s.locator)


def _overlap(done: list[Sentence], chunk: list[Sentence]) -> int:
    """How many leading sentences of `chunk` repeat the tail of `done` (the windows' overlap)."""
    for k in range(min(len(done), len(chunk)), 0, -1):
        if [_key(s) for s in done[-k:]] == [_key(s) for s in chunk[:k]]:
            return k
    return 0
