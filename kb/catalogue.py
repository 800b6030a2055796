"""The source catalogue: the documents `kb sources` lists, kept in a small file beside the index so
that a new process lists them without importing Chroma (most of a cold `kb sources`).

Every write to the collection through `Store` removes it first; ingest writes it again (atomically)
after each change, keyed by the fingerprint it has just recorded in the collection's metadata
(`Store.bump_fingerprint`). `listed(store)` serves it only while that fingerprint is still the
collection's — read from the embedded store's SQLite file with the standard library, read only —
and otherwise reads the store and writes a current catalogue. So a stale catalogue is never shown:
a write not followed by a new catalogue (an ingest killed half way), another fingerprint, a missing
or unreadable file, a layout this code does not know (another Chroma version) all mean the store is
read, as without a catalogue.

With a Chroma server (KB_CHROMA_URL) there is no catalogue: other clients write to the server, and
the only way to read its fingerprint is a request through Chroma's client, the import the
catalogue exists to avoid. Every listing asks the server.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from kb.settings import Settings
from kb.store import UNMARKED, SourceInfo, Store
from kb.types import Chapter

FORMAT = 1  # of the file; bump when what it holds changes
_FIELDS = [f.name for f in dataclasses.fields(SourceInfo)]
# The collection's fingerprint in Chroma's embedded store (its system tables; read only).
_FINGERPRINT_SQL = ("SELECT m.str_value FROM collections c JOIN collection_metadata m ON m.collection_id = c.id "
                    "WHERE c.name = ? AND m.key = 'kb_fingerprint'")


def path(settings: Settings, collection: str) -> Path:
    """`KB_HOME/catalogue/<collection>-<store>.json`: one file per collection of one local store."""
    where = str(Path(settings.chroma_path).resolve())
    return Path(settings.home) / "catalogue" / f"{collection}-{hashlib.sha1(where.encode()).hexdigest()[:8]}.json"


def listed(store: Store) -> list[SourceInfo]:
    """The documents in `store`'s collection, as `Store.sources()` reads them: from the catalogue when
    it is current, else from the store (and then a current catalogue is written)."""
    hit = load(store.settings, store.name)
    if hit is not None:
        return hit
    if not store.exists():
        return []
    before = store.fingerprint()
    infos = store.sources()
    if store.fingerprint() == before:  # nothing was written meanwhile: the listing is the fingerprint's
        save(store.settings, store.name, before, infos)
    return infos


def record(store: Store, fingerprint: str) -> None:
    """After a change to the collection (its new `fingerprint` just recorded): write the catalogue."""
    if store.settings.chroma_url or fingerprint.startswith(UNMARKED):
        return
    infos = store.sources()
    if store.fingerprint() == fingerprint:  # else another writer came after: its own call writes it
        save(store.settings, store.name, fingerprint, infos)


def forget(settings: Settings, collection: str) -> None:
    """Remove the catalogue (called before every write to the collection, so that one left by a write
    that never finished, or that changed no fingerprint, cannot be served)."""
    if settings.chroma_url:
        return
    try:
        path(settings, collection).unlink(missing_ok=True)
    except OSError:
        pass


def load(settings: Settings, collection: str) -> list[SourceInfo] | None:
    """The catalogue's documents, or None unless it is the current one of an embedded store."""
    if settings.chroma_url:
        return None
    try:
        data = json.loads(path(settings, collection).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("fields") != _FIELDS \
            or data.get("collection") != collection or not isinstance(data.get("sources"), list):
        return None
    live = stored_fingerprint(settings, collection)
    if live is None or live != data.get("fingerprint"):
        return None
    try:
        return [_info(item) for item in data["sources"]]
    except (TypeError, ValueError, KeyError):
        return None


def save(settings: Settings, collection: str, fingerprint: str, infos: list[SourceInfo]) -> None:
    """Write the catalogue for `fingerprint` (atomically); nothing for a server or an unmarked collection."""
    if settings.chroma_url or fingerprint.startswith(UNMARKED):
        return
    data = {"format": FORMAT, "fields": _FIELDS, "collection": collection, "fingerprint": fingerprint,
            "sources": [dataclasses.asdict(info) for info in infos]}
    target = path(settings, collection)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        tmp.replace(target)
    except OSError:
        pass  # a read-only KB_HOME: listings read the store


def stored_fingerprint(settings: Settings, collection: str) -> str | None:
    """The fingerprint the embedded store holds for `collection`, read without Chroma; None when it
    cannot be read (no store yet, a write in progress, an unknown layout)."""
    db = Path(settings.chroma_path) / "chroma.sqlite3"
    if not db.is_file():
        return None
    import sqlite3

    try:
        con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=1.0)
        try:
            rows = con.execute(_FINGERPRINT_SQL, (collection,)).fetchall()
        finally:
            con.close()
    except sqlite3.Error:
        return None
    if len(rows) != 1 or not isinstance(rows[0][0], str) or not rows[0][0]:
        return None
    return str(rows[0][0])


def _info(item: dict[str, Any]) -> SourceInfo:
    if not isinstance(item, dict) or sorted(item) != sorted(_FIELDS):
        raise ValueError("not a source")
    return SourceInfo(**{**item, "chapters": tuple(Chapter(**c) for c in item["chapters"])})
