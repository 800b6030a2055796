"""Briefs cached under KB_HOME/briefs, one file per document version (keyed by its content hash)
and backend, plus an index that lets a cached brief be served without opening the index: the
document's file is hashed and compared with the version the brief was built from."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from kb.settings import Settings

FORMAT = 3  # bump when a brief's content changes, so old cache files are rebuilt


def folder(settings: Settings) -> Path:
    return settings.home / "briefs"


def variant(settings: Settings) -> str:
    """What else a brief depends on: the backend (and model), the embedding model."""
    backend = settings.resolved_backend
    tag = f"{backend}-{settings.agent.model}" if backend == "openai" else backend
    return hashlib.sha1(f"{FORMAT}|{tag}|{settings.embedding.model}".encode()).hexdigest()[:10]


def path_for(settings: Settings, source: str, doc_hash: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in source)
    return folder(settings) / f"{safe}.{doc_hash[:16]}.{variant(settings)}.json"


def read(settings: Settings, source: str, doc_hash: str) -> dict[str, Any] | None:
    p = path_for(settings, source, doc_hash)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write(settings: Settings, source: str, doc_hash: str, file_path: str | None, brief: dict[str, Any]) -> Path:
    """Store a brief (atomically) and record it in the index."""
    p = path_for(settings, source, doc_hash)
    p.parent.mkdir(parents=True, exist_ok=True)
    _atomic(p, json.dumps(brief, ensure_ascii=False))
    index = _read_index(settings)
    index[source] = {"doc_hash": doc_hash, "path": file_path or "", "variant": variant(settings)}
    _atomic(folder(settings) / "index.json", json.dumps(index, ensure_ascii=False, indent=1))
    return p


def fast_read(settings: Settings, source: str) -> dict[str, Any] | None:
    """A cached brief served without the index: only when the document's file still has the hash
    the brief was built from (a changed, moved or missing file falls back to the index). `source`
    may be a unique part of the id where the source list beside the index is current."""
    index = _read_index(settings)
    entry = index.get(source)
    if entry is None and index:
        source = _listed_id(settings, source) or source
        entry = index.get(source)
    if not entry or entry.get("variant") != variant(settings) or not entry.get("path"):
        return None
    try:
        digest = hashlib.sha256(Path(entry["path"]).read_bytes()).hexdigest()
    except OSError:
        return None
    if digest != entry["doc_hash"]:
        return None
    return read(settings, source, digest)


def _listed_id(settings: Settings, part: str) -> str | None:
    """The document id `part` names, by the source list (kb/catalogue.py) when it is current; None
    otherwise (the index resolves it, and says what is wrong)."""
    from agent.brief.document import resolve_id
    from kb.catalogue import load
    from kb.errors import UnknownSource
    from kb.store import collection_name

    listed = load(settings, collection_name(settings))
    if listed is None:
        return None
    try:
        return resolve_id(part, sorted({s.source for s in listed}))
    except UnknownSource:
        return None


def _read_index(settings: Settings) -> dict[str, Any]:
    try:
        return json.loads((folder(settings) / "index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
