"""An embedder that remembers what it embedded, so a brief embeds each sentence once: the question
checks' answers score the retrieved sentences by meaning, and many of them are sentences the key
moments stage has just embedded."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

LIMIT = 1024  # texts remembered (a brief embeds about 200; a vector as a list is ≈ 12 KB); past that it starts again


class MemoEmbedder:
    """`inner` (any kb embedder), with the vector of every text it embedded kept for reuse."""

    def __init__(self, inner: Any, limit: int = LIMIT) -> None:
        self.inner = inner
        self.limit = limit
        self._vectors: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:  # name, max_tokens, semantic, ... of the model
        return getattr(self.inner, name)

    def count_tokens(self, text: str) -> int:
        return int(self.inner.count_tokens(text))

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        texts = list(texts)
        with self._lock:
            known = {t: self._vectors[t] for t in texts if t in self._vectors}
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            fresh = dict(zip(missing, self.inner.embed(missing)))
            known.update(fresh)
            with self._lock:
                if len(self._vectors) + len(fresh) > self.limit:
                    self._vectors = {}
                self._vectors.update(fresh)
        return [known[t] for t in texts]


_MEMOS: dict[int, MemoEmbedder] = {}
_MEMOS_LOCK = threading.Lock()


def memo_for(embedder: Any) -> MemoEmbedder:
    """The process-wide memo over `embedder` (itself when it is one)."""
    if isinstance(embedder, MemoEmbedder):
        return embedder
    with _MEMOS_LOCK:
        memo = _MEMOS.get(id(embedder))
        if memo is None or memo.inner is not embedder:
            memo = _MEMOS[id(embedder)] = MemoEmbedder(embedder)
        return memo
