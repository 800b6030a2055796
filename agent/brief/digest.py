"""The digest: the top moments across the documents ingested in a time window.

Each document's brief (cached, or built) gives its key moments; a moment's distinctiveness is how
unlike it is to the moments of the other documents (1 - its highest cosine similarity to them, by
the embedding model). Each document contributes its most distinctive moment first, then a second
one, so the list holds one or two per document, most distinctive first.
"""

from __future__ import annotations

import re
import time
from typing import Any

import numpy as np

from kb.settings import Settings
from kb.store import Store

PER_DOCUMENT = 2
_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_window(text: str) -> float:
    """`24h` -> 86400.0 (s, m, h, d, w); ValueError naming the text otherwise."""
    m = _SPAN.match(text or "")
    if not m:
        raise ValueError(f"--since {text!r}: expected a number and a unit, e.g. 24h, 7d, 90m")
    return float(m.group(1)) * _UNIT_S[m.group(2)]


def digest(settings: Settings | None = None, since_s: float = 86400.0, top: int = 5, store: Store | None = None,
           embedder: Any = None, now: float | None = None) -> list[dict[str, Any]]:
    """Up to `top` moments: {source, title, text, at, seconds, url, quote, distinctiveness}."""
    from agent.brief.build import get_brief

    settings = settings or Settings.from_env()
    store = store or Store(settings, embedder)
    store.require_documents()
    cutoff = (now or time.time()) - since_s
    recent = [s for s in store.sources() if s.ingested_at >= cutoff]
    pools: list[list[dict[str, Any]]] = []
    for info in recent:
        b = get_brief(info.source, settings, store=store, embedder=embedder)
        pools.append([{"source": b["source"], "title": b["title"], **m} for m in b["moments"]])
    pools = [p for p in pools if p]
    if not pools:
        return []
    if embedder is None:
        from kb.embeddings import get_embedder

        embedder = get_embedder(settings)
    scored = _distinctiveness(pools, embedder)
    order = []
    for rank in range(PER_DOCUMENT):
        layer = [p[rank] for p in scored if len(p) > rank]
        order += sorted(layer, key=lambda m: -m["distinctiveness"])
    return order[:top]


def _distinctiveness(pools: list[list[dict[str, Any]]], embedder: Any) -> list[list[dict[str, Any]]]:
    flat = [(d, m) for d, pool in enumerate(pools) for m in pool]
    vectors = np.asarray(embedder.embed([m["quote"] for _, m in flat]), dtype=np.float32)
    vectors /= np.where(np.linalg.norm(vectors, axis=1, keepdims=True) == 0, 1, np.linalg.norm(vectors, axis=1, keepdims=True))
    docs = np.array([d for d, _ in flat])
    out: list[list[dict[str, Any]]] = [[] for _ in pools]
    for i, (d, m) in enumerate(flat):
        others = vectors[docs != d]
        near = float(np.max(others @ vectors[i])) if len(others) else 0.0
        out[d].append({**m, "distinctiveness": round(1.0 - near, 4)})
    return [sorted(p, key=lambda m: -m["distinctiveness"]) for p in out]
