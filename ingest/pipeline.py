"""The ingest pipeline: walk paths, check and parse every file, then chunk, embed and write what
is new, streaming, and remove what is stale.

1. **Check.** Every file is read and parsed before anything is embedded, so a bad file is
   reported in a fraction of a second. A file whose stored chunks are all present and were
   written from the same content (hash) by the same chunk format is unchanged: skipped without
   chunking, so an unchanged corpus never loads the embedding model. A folder's files of an
   unsupported type are reported as skipped, with the reason.
2. **Write.** Per changed document: chunk (chunk ids derive from content), embed only the chunks
   the index lacks, in batches, each batch written as soon as it is embedded to a *staging*
   collection beside the index. Memory holds one document's chunks and one batch of vectors.
   When every chunk of the document is embedded, the switch: its new chunks move from staging into
   the index (no embedding in this step), kept ones are pointed at the new version, stale ones are
   deleted. Search reads only the index, so it never sees a half-embedded document; an ingest
   killed at any point leaves no duplicates, and the next run embeds only what no batch wrote.

Progress (a bar on a terminal, a line every few seconds otherwise) covers both steps; the report
says where the time went.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ingest import loaders
from ingest.chunking import CHUNK_FORMAT, chunk_document, embedding_text
from ingest.errors import IngestError
from ingest.loaders import is_companion, load_document
from ingest.progress import Progress, pick_mode
from kb.embeddings import Embedder, get_embedder
from kb.settings import Settings
from kb.speakers import document_texts
from kb.store import Store, chunk_metadata, document_metadata, passage_from
from kb.types import Chunk, Document
from kb.vector_cache import VectorCache, embed_missing, for_settings

WRITE_BATCH = 256  # chunks embedded, then written, at a time: at most this much work is lost to a kill
PARSE_CACHE_BYTES = 64 << 20  # parsed documents kept from the check for the write; beyond, parsed again
MOVE_BATCH = 1000  # records moved from staging into the index per request

OnFile = Callable[[str, str], None]


def bundled_corpus() -> Path:
    """The folder of the corpus that ships with the project (package data of `kb`)."""
    return Path(str(resources.files("kb") / "corpus"))


@dataclass
class IngestReport:
    files_seen: int = 0
    files_ingested: int = 0
    files_skipped: int = 0  # unchanged
    files_failed: int = 0
    files_unsupported: int = 0  # found in a folder, of a type no loader reads: skipped
    chunks_added: int = 0  # new in the index: embedded now, or resumed from an interrupted run
    chunks_resumed: int = 0  # of those, embedded by an earlier run that was interrupted
    chunks_deleted: int = 0
    chunks_total: int = 0
    sentences_embedded: int = 0  # sentence vectors stored for answer scoring (kb.vector_cache)
    sentence_vectors_off: str | None = None  # why none could be kept (the cache file's problem), if so
    sentence_vectors_dropped: int = 0  # by --prune: vectors of sentences no stored document has any more
    model_loaded: bool = False  # whether anything needed the embedding model
    errors: list[dict[str, str]] = field(default_factory=list)
    unsupported: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step, e.g. {"embedding": 12.0}

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        data["timings"] = {k: round(v, 3) for k, v in self.timings.items()}
        return data

    def summary_line(self) -> str:
        files = f"{self.files_ingested} ingested, {self.files_skipped} unchanged, {self.files_failed} failed"
        if self.files_unsupported:
            files += f", {self.files_unsupported} skipped (unsupported type)"
        chunks = f"{self.chunks_added} chunks added"
        if self.chunks_resumed:
            chunks += f" ({self.chunks_resumed} embedded by an interrupted run)"
        if self.sentence_vectors_off:
            chunks += f", no sentence vectors kept ({self.sentence_vectors_off})"
        deleted = f"{self.chunks_deleted} deleted"
        if self.sentence_vectors_dropped:
            deleted += f" (and {self.sentence_vectors_dropped} sentence vectors no document needs)"
        return (f"{self.files_seen} files: {files}; {chunks}, {deleted}, "
                f"{self.chunks_total} in the index ({self.seconds:.1f} s{self._where_the_time_went()})")

    def _where_the_time_went(self) -> str:
        top = sorted(((v, k) for k, v in self.timings.items() if v >= 0.05), reverse=True)[:4]
        return (": " + ", ".join(f"{k} {v:.1f} s" for v, k in top)) if top else ""


@dataclass
class Walk:
    """What a set of paths holds: files to ingest, a folder's files of unsupported type, missing paths."""

    files: list[Path] = field(default_factory=list)
    unsupported: list[IngestError] = field(default_factory=list)
    missing: list[IngestError] = field(default_factory=list)


def walk(paths: Iterable[Path]) -> Walk:
    """Named files as given; directories walked (hidden files and folders skipped), their files of a
    type no loader reads listed as unsupported; a file reached twice is taken once."""
    out = Walk()
    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if not f.is_file() or any(part.startswith(".") for part in f.relative_to(p).parts):
                    continue
                if is_companion(f):  # part of the yt-dlp `.info.json` beside it, not a document
                    continue
                if _supported(f):
                    found.append(f)
                else:
                    out.unsupported.append(IngestError(f, _unsupported_reason(f)))
        elif p.exists():
            found.append(p)
        else:
            out.missing.append(IngestError(p, "no such file or directory"))
    real: set[Path] = set()
    for f in found:
        if f.resolve() not in real:
            real.add(f.resolve())
            out.files.append(f)
    return out


def expand_paths(paths: Iterable[Path]) -> tuple[list[Path], list[IngestError]]:
    """Files to ingest and the paths that do not exist (see `walk`)."""
    w = walk(paths)
    return w.files, w.missing


def _supported(path: Path) -> bool:
    return path.suffix.lower() in loaders.SUPPORTED_SUFFIXES


def _unsupported_reason(path: Path) -> str:
    suffix = path.suffix.lower() or "(none)"
    return f"unsupported file type {suffix!r} (supported: {', '.join(loaders.SUPPORTED_SUFFIXES)})"


def ingest(
    paths: Sequence[Path] | None = None,
    settings: Settings | None = None,
    store: Store | None = None,
    embedder: Embedder | None = None,
    prune: bool = False,
    progress: bool | str | None = None,
    on_file: OnFile | None = None,
    write_batch: int = WRITE_BATCH,
) -> IngestReport:
    """Ingest files (default: the bundled corpus) into the store; returns the summary.

    `progress`: None for a bar on a terminal and periodic lines otherwise, False for none, or a
    mode (`bar`, `lines`, `off`). `on_file(path, status)` hears each file's outcome
    (`unchanged`, `N chunks added`, `skipped: reason`, `failed: reason`)."""
    started = time.perf_counter()
    settings = settings or Settings.from_env()
    setup: dict[str, float] = {}
    with _Timings(setup)("preparing the model"):  # an ONNX export, once, on a model's first use
        embedder = embedder or get_embedder(settings)
    with _Timings(setup)("reading the index"):
        store = store or Store(settings, embedder)
    run = _Run(store, embedder, Progress(pick_mode(progress, sys.stderr)), on_file, write_batch)
    run.report.timings.update(setup)
    roots = [Path(p).absolute() for p in (paths or [bundled_corpus()])]
    try:
        run.all(roots, prune)
    finally:
        run.progress.close()
    run.report.seconds = time.perf_counter() - started
    return run.report


class _Timings:
    """Seconds spent per named step, accumulated."""

    def __init__(self, into: dict[str, float]) -> None:
        self.into = into

    @contextlib.contextmanager
    def __call__(self, step: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.into[step] = self.into.get(step, 0.0) + time.perf_counter() - t0


@dataclass
class _Planned:
    """A file the check found changed (or new): to chunk, embed and write."""

    path: Path
    size: int
    doc: Document | None  # None: parsed again when its turn comes (too big to keep)
    stored_ids: list[str]


class _Run:
    """One ingest: the check of every file, then the streaming write of the changed ones."""

    def __init__(self, store: Store, embedder: Embedder, progress: Progress, on_file: OnFile | None, write_batch: int) -> None:
        self.store = store
        self.staging = Store(store.settings.with_(collection_prefix=f"{store.settings.collection_prefix}-staging"), embedder)
        self.embedder = embedder
        self.progress = progress
        self.on_file = on_file
        self.write_batch = max(1, write_batch)
        self.report = IngestReport()
        self.time = _Timings(self.report.timings)
        self.sources: dict[str, str] = {}  # source id -> file, for this run
        self.changed = False
        self._limits: tuple[int, int] | None = None
        self._staging_exists: bool | None = None
        self._embed_todo = 0  # chunks to embed in the documents chunked so far
        self._bytes_chunked = 0
        self._bytes_planned = 0
        self.vectors = for_settings(store.settings, embedder)
        self._vectors_todo: list[Path] = []  # unchanged documents whose sentence vectors are not stored yet

    def all(self, roots: list[Path], prune: bool) -> None:
        found = walk(roots)
        self.report.files_seen = len(found.files) + len(found.missing) + len(found.unsupported)
        for err in found.missing:
            self._fail(err)
        for err in found.unsupported:
            self.report.files_unsupported += 1
            self.report.unsupported.append({"file": err.path, "reason": err.reason})
            self._tell(err.path, f"skipped: {err.reason}")
        plan = self.check(found.files)
        if plan:
            self._bytes_planned = sum(p.size for p in plan)
            self.progress.phase("embedding", None, "chunks")
            for n, planned in enumerate(plan, 1):
                self.write(planned, n, len(plan))
        if self._vectors_todo:
            self.progress.phase("embedding sentences", len(self._vectors_todo), "files")
            for path in self._vectors_todo:
                self._vectors_of_unchanged(path)
                self.progress.update(1)
        if prune:
            self.prune(roots)
        self.finish()

    # --- 1. check --------------------------------------------------------------------------------
    def check(self, files: list[Path]) -> list[_Planned]:
        sizes = [_size(f) for f in files]
        self.progress.phase(f"checking {len(files)} files", sum(sizes), "B")
        plan: list[_Planned] = []
        kept_bytes = 0
        for path, size in zip(files, sizes):
            self.progress.detail(path.name)
            try:
                doc = self._parse(path)
                stored = self._stored(doc)
            except IngestError as err:
                self._fail(err)
                continue
            finally:
                self.progress.update(size)
            if stored is None:  # unchanged
                if self._needs_vectors(doc):
                    self._vectors_todo.append(path)  # an index made before sentence vectors were kept
                continue
            keep = kept_bytes + size <= PARSE_CACHE_BYTES
            kept_bytes += size if keep else 0
            plan.append(_Planned(path, size, doc if keep else None, stored))
        return plan

    def _parse(self, path: Path) -> Document:
        with self.time("parsing"):
            try:
                doc = load_document(path)
            except (OSError, ValueError) as err:
                if isinstance(err, IngestError):
                    raise
                raise IngestError(path, str(err)) from None
        if doc.source in self.sources and self.sources[doc.source] != str(path):
            raise IngestError(path, f"source id {doc.source!r} is already used by {self.sources[doc.source]} "
                                    "(file stems must be unique)")
        self.sources[doc.source] = str(path)
        return doc

    def _stored(self, doc: Document) -> list[str] | None:
        """The ids the index holds for the document, or None when it holds this version completely
        (then nothing is chunked or embedded; a moved file's chunks are pointed at its new path)."""
        with self.time("reading the index"):
            ids = self.store.ids({"source": doc.source})
            meta = self.store.peek({"source": doc.source}) if ids else None
            if meta is None:
                return []
            stored_path = meta.get("path")
            if stored_path and stored_path != doc.path and Path(stored_path).exists() and not _same_file(stored_path, doc.path):
                raise IngestError(doc.path, f"source id {doc.source!r} is already used by {stored_path} "
                                            "(file stems must be unique; --prune after removing it to replace it)")
            current = self.store.ids({"$and": [{"source": doc.source}, {"doc_hash": doc.content_hash},
                                               {"chunk_format": CHUNK_FORMAT}]})
        if not (len(current) == len(ids) == meta.get("doc_chunks")):
            return ids
        if stored_path != doc.path:  # moved or renamed folder: same content, new place
            with self.time("writing"):
                self.store.mark_current(ids, doc.content_hash, doc.path, len(ids), _doc_meta(doc))
            self.changed = True  # what `kb sources` lists changed (its path): a new fingerprint says so
        self.report.files_skipped += 1
        self._tell(doc.path, "unchanged")
        return None

    # --- 2. write --------------------------------------------------------------------------------
    def write(self, planned: _Planned, n: int, of: int) -> None:
        name = f"[{n}/{of}] {planned.path.name}"
        try:
            doc = planned.doc
            if doc is None:
                self.progress.detail(f"parsing {name}")
                with self.time("parsing"):
                    doc = load_document(planned.path)
            chunks = self._chunk(doc, name)
        except IngestError as err:
            self._fail(err)
            return
        except (OSError, ValueError) as err:
            self._fail(IngestError(planned.path, str(err)))
            return
        planned.doc = None
        self._write_chunks(doc, chunks, planned, name)
        self._sentence_vectors(doc, chunks)

    def _chunk(self, doc: Document, name: str) -> list[Chunk]:
        max_tokens, overlap = self.limits()
        self.progress.detail(f"chunking {name}")

        def tell(done: int, total: int) -> None:
            self.progress.detail(f"chunking {name}: {done:,}/{total:,} sentences")

        with self.time("chunking"):
            return chunk_document(doc, self.embedder.count_tokens, max_tokens, overlap, on_progress=tell)

    def _needs_vectors(self, doc: Document) -> bool:
        """Whether this version of the document's sentence vectors is still to be embedded."""
        if self.vectors is None:
            return False
        stored = self.vectors.has_document(doc.source, doc.content_hash)  # an unusable file says so here
        return not stored and self._vectors_usable()

    def _vectors_usable(self) -> bool:
        """False (and said once, in the report) when the cache file cannot be used: then nothing is
        embedded for it, rather than embedded and lost on every run."""
        if self.vectors is not None and (self.vectors.broken or self.vectors.read_only):
            self.report.sentence_vectors_off = self.vectors.broken or f"{self.vectors.path}: not writable"
            self.vectors = None
        return self.vectors is not None

    def _sentence_vectors(self, doc: Document, chunks: list[Chunk]) -> None:
        """Embed the texts answer scoring will embed for this document's sentences, once (kb.vector_cache)."""
        if not self._needs_vectors(doc):
            return
        self.progress.detail(f"embedding the sentences of {Path(doc.path).name}")
        texts = document_texts([s.text for s in c.sentences] for c in sorted(chunks, key=lambda c: c.ordinal))
        with self.time("embedding sentences"):
            self.report.sentences_embedded += embed_missing(self.vectors, texts, self.embedder.embed)
            self.vectors.mark_document(doc.source, doc.content_hash)
        self._vectors_usable()  # a write that failed turns them off for the rest of the run

    def _vectors_of_unchanged(self, path: Path) -> None:
        try:
            doc = self._parse(path)
            chunks = self._chunk(doc, path.name)
        except (OSError, ValueError) as err:  # it parsed in the check; a file changed since is the next run's
            self._fail(err if isinstance(err, IngestError) else IngestError(path, str(err)))
            return
        self._sentence_vectors(doc, chunks)

    def limits(self) -> tuple[int, int]:
        """The chunk window and overlap, in model tokens: the first call loads the model."""
        if self._limits is None:
            self.progress.detail("loading the embedding model")
            with self.time("loading the model"):
                max_tokens = min(self.store.settings.chunking.tokens, self.embedder.max_tokens)
            self._limits = (max_tokens, min(self.store.settings.chunking.overlap_tokens, max_tokens // 2))
            self.report.model_loaded = True
        return self._limits

    def _write_chunks(self, doc: Document, chunks: list[Chunk], planned: _Planned, name: str) -> None:
        existing = set(planned.stored_ids)
        new_ids = [c.id for c in chunks]
        new = set(new_ids)
        stale = [i for i in planned.stored_ids if i not in new]
        staged = set(self._staged(doc.source)) if stale or existing else set()
        # Nothing to replace (a new document, or the rest of one a killed run began): batches go
        # straight into the index. Otherwise they wait in staging until the switch.
        direct = not stale and not staged
        todo = [c for c in chunks if c.id not in existing and c.id not in staged]
        self._estimate(len(todo), planned.size)
        self.progress.detail(f"embedding {name}")
        target = self.store if direct else self.staging
        for i in range(0, len(todo), self.write_batch):
            batch = todo[i : i + self.write_batch]
            with self.time("embedding"):
                vectors = self.embedder.embed([embedding_text(c.title, c.text) for c in batch])
            now = time.time()
            metas = [{**chunk_metadata(c, doc.content_hash, doc.path, doc.kind, now, len(chunks)), **_doc_meta(doc)}
                     for c in batch]
            with self.time("writing"):
                target.write([c.id for c in batch], [c.text for c in batch], vectors, metas)
            self._staging_exists = self._staging_exists or not direct
            self.progress.update(len(batch))
        self.progress.detail(f"writing {name}")
        with self.time("writing"):  # the switch (no embedding from here on)
            if not direct:
                self._move([i for i in new_ids if i not in existing], doc, len(chunks))
            self.store.mark_current([i for i in new_ids if i in existing], doc.content_hash, doc.path, len(chunks),
                                    _doc_meta(doc))
            self.report.chunks_deleted += self.store.delete(stale)
            if not direct:
                self.staging.delete(self.staging.ids({"source": doc.source}))
        added = len(new) - len(existing & new)
        resumed = len(staged & (new - existing))
        self.report.chunks_added += added
        self.report.chunks_resumed += resumed
        self.report.files_ingested += 1
        self.changed = True
        self._tell(doc.path, f"{added} chunks added" + (f" ({resumed} embedded by an interrupted run)" if resumed else ""))

    def _staged(self, source: str) -> list[str]:
        """Ids of this document's chunks an earlier, interrupted run embedded (in staging)."""
        if self._staging_exists is None:
            with self.time("reading the index"):
                self._staging_exists = self.staging.exists()
        if not self._staging_exists:
            return []
        with self.time("reading the index"):
            return self.staging.ids({"source": source})

    def _move(self, ids: list[str], doc: Document, n_chunks: int) -> None:
        """Copy staged records into the index, pointed at this version of the document."""
        now = time.time()
        version = {"doc_hash": doc.content_hash, "path": doc.path, "doc_chunks": n_chunks, "ingested_at": now, **_doc_meta(doc)}
        for i in range(0, len(ids), MOVE_BATCH):
            part = ids[i : i + MOVE_BATCH]
            got_ids, texts, vectors, metas = self.staging.records(part)
            if len(got_ids) != len(part):
                raise RuntimeError(f"{len(part) - len(got_ids)} staged chunks of {doc.source} went missing; run the ingest again")
            self.store.write(got_ids, texts, vectors, [{**m, **version} for m in metas])

    def _estimate(self, todo: int, size: int) -> None:
        """Chunks to embed in all: exact for the documents chunked, by bytes for the others."""
        self._embed_todo += todo
        self._bytes_chunked += size
        left = self._bytes_planned - self._bytes_chunked
        rate = self._embed_todo / self._bytes_chunked if self._bytes_chunked else 0.0
        self.progress.set_total(self._embed_todo + round(left * rate))

    # --- prune, finish ---------------------------------------------------------------------------
    def prune(self, roots: Sequence[Path]) -> None:
        """Drop documents under the paths given this run whose files are gone."""
        gone = [s for s in self.store.sources() if s.path and s.source not in self.sources
                and _under(s.path, roots) and not Path(s.path).exists()]
        for s in gone:
            self.report.chunks_deleted += self.store.delete(self.store.ids({"source": s.source}))
            if self._staged(s.source):
                self.staging.delete(self.staging.ids({"source": s.source}))
            self.changed = True
        with self.time("pruning sentence vectors"):
            self.report.sentence_vectors_dropped += prune_sentence_vectors(self.store, self.vectors)

    def finish(self) -> None:
        if self.changed:
            with self.time("writing"):
                fingerprint = self.store.bump_fingerprint()
            # The index changed, and this is the one place that knows it: whatever must follow
            # the index is updated here.
            with self.time("saving the lexical index"):
                self.store.refresh_lexical()  # save the BM25 index for the new fingerprint: searches load it
            with self.time("saving the source list"):
                from kb.catalogue import record

                record(self.store, fingerprint)  # `kb sources` lists it without opening the index
        with self.time("reading the index"):
            self.report.chunks_total = self.store.count()
        if self.vectors is not None:
            self.vectors.close()

    # --- reporting -------------------------------------------------------------------------------
    def _fail(self, err: IngestError) -> None:
        self.report.files_failed += 1
        self.report.errors.append({"file": err.path, "reason": err.reason})
        self._tell(err.path, f"failed: {err.reason}")

    def _tell(self, path: str, status: str) -> None:
        if self.on_file:
            with self.progress.outside():
                self.on_file(str(path), status)


def prune_sentence_vectors(store: Store, cache: VectorCache | None) -> int:
    """Drop the sentence vectors no stored document needs (a removed document's, a changed one's old
    sentences): the texts kb.speakers.document_texts names for the index's documents stay. Returns
    the number dropped."""
    if cache is None:
        return 0
    chunks: dict[str, list[tuple[int, list[str]]]] = defaultdict(list)
    for chunk_id, text, meta in zip(*store.all_chunks()):
        p = passage_from(chunk_id, text, meta or {}, 0.0)
        chunks[p.source].append((int((meta or {}).get("ordinal") or 0), [x.text for x in p.sentences]))
    texts = [t for parts in chunks.values() for t in document_texts(c for _, c in sorted(parts, key=lambda x: x[0]))]
    return cache.retain(texts, chunks)


def _doc_meta(doc: Document) -> dict[str, Any]:
    """Metadata every chunk of a document version carries beside its own (chapters, feed, ...)."""
    return {**document_metadata(doc), "chunk_format": CHUNK_FORMAT}


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _same_file(a: str, b: str) -> bool:
    try:
        return Path(a).samefile(b)
    except OSError:
        return False


def _under(path: str, roots: Sequence[Path]) -> bool:
    p = Path(path)
    return any(p == r or p.is_relative_to(r) for r in roots)
