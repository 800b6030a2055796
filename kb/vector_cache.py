"""Sentence vectors on disk: embedded once at ingest, read whenever an answer scores sentences.

Answer scoring (agent.evidence) embeds every retrieved sentence to compare it with the question;
without this cache that is most of a warm answer's time. Ingest embeds each document's sentences
(the texts kb.speakers.document_texts names) beside its chunks and stores them here, keyed by a
digest of the model name and the exact text, so a vector is only ever reused for the same text and
model. It is a cache, not the index: an entry that is missing is embedded when needed (and kept),
and deleting the file loses nothing but time. A file that cannot be read or written (not a
database, a read-only folder) turns the cache off for the process, with the reason in `broken`;
answers and ingest go on embedding as if it were not there; another process's write in progress
("database is locked") only skips that one read or write. In a folder it cannot write, an existing
file is read and nothing is added. The key names the model by its setting: after replacing a
model's files under the same name, delete the file (and its `-wal` and `-shm` companions); a
stored vector whose length is not the model's is never used.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from kb.settings import Settings

SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS documents (model TEXT NOT NULL, source TEXT NOT NULL, content_hash TEXT NOT NULL,
                                      PRIMARY KEY (model, source, content_hash));
"""
_BATCH = 500  # keys per SELECT (SQLite's variable limit is 32766; smaller keeps statements short)


class VectorCache:
    """Vectors of texts for one embedding model, in the SQLite file `path` (made on first write)."""

    def __init__(self, path: Path, model: str) -> None:
        self.path = Path(path)
        self.model = model
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self.broken: str | None = None
        self.read_only = False  # opened from a folder it cannot write: vectors are read, none are kept

    def _db(self, create: bool) -> sqlite3.Connection | None:
        if self.broken:
            return None
        if self._conn is None:
            if not create and not self.path.exists():
                return None
            try:
                self._conn = self._open()
            except (sqlite3.Error, OSError) as exc:
                if not self._open_read_only():
                    self._fail(exc)
                    return None
        if create and self.read_only:
            return None
        return self._conn

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, check_same_thread=False, timeout=5)
        for attempt in range(5):  # processes opening a new file at once race to switch it to WAL
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError:
                if attempt == 4:
                    raise
                time.sleep(0.1 * (attempt + 1))
        conn.execute("PRAGMA synchronous=NORMAL")  # a lost write is a cache miss, not lost data
        conn.executescript(SCHEMA)
        return conn

    def _open_read_only(self) -> bool:
        """An existing file in a folder this process cannot write (a shared index, a container image)."""
        if not self.path.exists():
            return False
        try:
            conn = sqlite3.connect(f"file:{self.path}?immutable=1", uri=True, check_same_thread=False)
            conn.execute("SELECT 1 FROM vectors LIMIT 1")
        except sqlite3.Error:
            return False
        self._conn, self.read_only = conn, True
        return True

    def _fail(self, exc: Exception) -> None:
        if isinstance(exc, sqlite3.OperationalError) and re.search(r"locked|busy", str(exc)):
            return  # another process is writing: this read or write is skipped, the cache stays on
        self.broken = f"{self.path}: {exc}"
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None

    def _key(self, text: str) -> bytes:
        return hashlib.blake2b(f"{self.model}\0{text}".encode(), digest_size=16).digest()

    def get(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of those `texts` that have one."""
        with self._lock:
            db = self._db(create=False)
            if db is None or not texts:
                return {}
            by_key = {self._key(t): t for t in texts}
            keys = list(by_key)
            out = {}
            try:
                for i in range(0, len(keys), _BATCH):
                    part = keys[i:i + _BATCH]
                    rows = db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(part))})", part)
                    for key, blob in rows:
                        out[by_key[key]] = np.frombuffer(blob, dtype=np.float32)
            except sqlite3.Error as exc:
                self._fail(exc)
                return {}
            return out

    def missing(self, texts: Sequence[str]) -> list[str]:
        """Those of `texts` that have no vector yet, in order."""
        have = self.get(texts)
        return [t for t in texts if t not in have]

    def put(self, vectors: Mapping[str, Sequence[float]]) -> None:
        if not vectors:
            return
        rows = [(self._key(t), np.asarray(v, dtype=np.float32).tobytes()) for t, v in vectors.items()]
        self._write(("INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)", rows))

    def _write(self, *steps: tuple[str, Sequence[tuple[object, ...]]]) -> None:
        """Run (statement, rows) steps in one transaction; a failure turns the cache off."""
        with self._lock:
            db = self._db(create=True)
            if db is None:
                return
            try:
                with db:
                    for sql, rows in steps:
                        db.executemany(sql, rows)
            except sqlite3.Error as exc:
                self._fail(exc)

    def has_document(self, source: str, content_hash: str) -> bool:
        """Whether ingest stored this version of the document's sentence vectors."""
        with self._lock:
            db = self._db(create=False)
            if db is None:
                return False
            try:
                row = db.execute("SELECT 1 FROM documents WHERE model = ? AND source = ? AND content_hash = ?",
                                 (self.model, source, content_hash)).fetchone()
            except sqlite3.Error as exc:
                self._fail(exc)
                return False
            return row is not None

    def mark_document(self, source: str, content_hash: str) -> None:
        self._write(("DELETE FROM documents WHERE model = ? AND source = ?", [(self.model, source)]),
                    ("INSERT INTO documents (model, source, content_hash) VALUES (?, ?, ?)", [(self.model, source, content_hash)]))

    def retain(self, texts: Iterable[str], sources: Iterable[str]) -> int:
        """Keep only the vectors of `texts` (for this model) and this model's marks of the documents
        `sources`: what `kb ingest --prune` leaves, the sentences of the documents the index still
        holds. The file is one per KB_HOME, so the vectors an index of another model or chunk size
        kept go too (that index embeds them again on its next ingest, or its answers do, as
        needed). Returns the number of vectors dropped; the file is compacted after a drop."""
        keys = [(self._key(t),) for t in dict.fromkeys(texts)]
        kept = [(s,) for s in dict.fromkeys(sources)]
        with self._lock:
            db = self._db(create=False)
            if db is None or self.read_only:
                return 0
            try:
                with db:
                    db.execute("CREATE TEMP TABLE IF NOT EXISTS keep_keys (key BLOB PRIMARY KEY)")
                    db.execute("CREATE TEMP TABLE IF NOT EXISTS keep_sources (source TEXT PRIMARY KEY)")
                    db.execute("DELETE FROM keep_keys")
                    db.execute("DELETE FROM keep_sources")
                    db.executemany("INSERT OR IGNORE INTO keep_keys VALUES (?)", keys)
                    db.executemany("INSERT OR IGNORE INTO keep_sources VALUES (?)", kept)
                    dropped = db.execute("DELETE FROM vectors WHERE key NOT IN (SELECT key FROM keep_keys)").rowcount
                    db.execute("DELETE FROM documents WHERE model != ? OR source NOT IN (SELECT source FROM keep_sources)",
                               (self.model,))
            except sqlite3.Error as exc:
                self._fail(exc)
                return 0
            if dropped:
                with contextlib.suppress(sqlite3.Error):  # compacting is a nicety: another process may be reading
                    db.execute("VACUUM")
            return dropped

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def embed_missing(cache: VectorCache, texts: Iterable[str], embed: Callable[[list[str]], Sequence[Sequence[float]]],
                  batch: int = 64) -> int:
    """Embed those of `texts` the cache lacks, shortest first (little padding), and store them; the
    number embedded."""
    todo = sorted(cache.missing(list(dict.fromkeys(texts))), key=len)
    for i in range(0, len(todo), batch):
        part = todo[i:i + batch]
        cache.put(dict(zip(part, embed(part))))
    return len(todo)


def for_settings(settings: Settings, embedder: object) -> VectorCache | None:
    """The sentence-vector cache these settings name, or None when it is off or the embedder says
    nothing about meaning (the tests' hashing stand-in: answer scoring does not embed with it)."""
    if not settings.embedding.sentence_vectors or not getattr(embedder, "semantic", True):
        return None
    return VectorCache(settings.sentence_vectors_path, settings.embedding.model)
