"""The ingest pipeline: walk paths, parse, chunk, embed what is new, write, remove what is stale.

Idempotent and incremental: chunk ids derive from content, an unchanged file (same content hash,
all its chunks present) is skipped, and a changed file gets its new chunks added *before* its stale
ones are deleted, so an ingest killed half-way leaves no duplicates and the next run completes it.
A bad file is reported (file + reason) and the others still ingest; nothing stored is lost.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ingest.chunking import chunk_document, embedding_text
from ingest.errors import IngestError
from ingest.loaders import SUPPORTED_SUFFIXES, is_companion, load_document
from kb.embeddings import Embedder, get_embedder
from kb.settings import Settings
from kb.store import Store, document_metadata


def bundled_corpus() -> Path:
    """The folder of the corpus that ships with the project (package data of `kb`)."""
    return Path(str(resources.files("kb") / "corpus"))


@dataclass
class IngestReport:
    files_seen: int = 0
    files_ingested: int = 0
    files_skipped: int = 0
    files_failed: int = 0
    chunks_added: int = 0
    chunks_deleted: int = 0
    chunks_total: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def summary_line(self) -> str:
        return (
            f"{self.files_seen} files: {self.files_ingested} ingested, {self.files_skipped} unchanged, "
            f"{self.files_failed} failed; {self.chunks_added} chunks added, {self.chunks_deleted} deleted, "
            f"{self.chunks_total} in the index ({self.seconds:.1f} s)"
        )


def expand_paths(paths: Iterable[Path]) -> tuple[list[Path], list[IngestError]]:
    """Files to ingest: named files as given, directories walked for supported files (hidden
    skipped); a file reached twice (named twice, or a link beside its target) is taken once."""
    files: list[Path] = []
    errors: list[IngestError] = []
    real: set[Path] = set()
    for p in paths:
        if p.is_dir():
            found = sorted(
                f for f in p.rglob("*")
                if f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
                and not is_companion(f)
            )
            files.extend(found)
        elif p.exists():
            files.append(p)
        else:
            errors.append(IngestError(p, "no such file or directory"))
    unique = []
    for f in files:
        if f.resolve() not in real:
            real.add(f.resolve())
            unique.append(f)
    return unique, errors


def _same_file(a: str, b: str) -> bool:
    try:
        return Path(a).samefile(b)
    except OSError:
        return False


def _under(path: str, roots: Sequence[Path]) -> bool:
    p = Path(path)
    return any(p == r or p.is_relative_to(r) for r in roots)


def ingest(
    paths: Sequence[Path] | None = None,
    settings: Settings | None = None,
    store: Store | None = None,
    embedder: Embedder | None = None,
    prune: bool = False,
    progress: bool | None = None,
    on_file: Callable[[str, str], None] | None = None,
) -> IngestReport:
    """Ingest files (default: the bundled corpus) into the store; returns the summary."""
    started = time.perf_counter()
    settings = settings or Settings.from_env()
    embedder = embedder or get_embedder(settings)
    store = store or Store(settings, embedder)
    report = IngestReport()
    roots = [Path(p).absolute() for p in (paths or [bundled_corpus()])]
    files, missing = expand_paths(roots)
    for err in missing:
        _fail(report, err, on_file)
    report.files_seen = len(files) + len(missing)
    max_tokens = min(settings.chunk_tokens, embedder.max_tokens)
    overlap = min(settings.chunk_overlap_tokens, max_tokens // 2)
    show = sys.stderr.isatty() if progress is None else progress
    changed = False
    seen_sources: dict[str, str] = {}
    for path in files:
        try:
            doc = load_document(path)
            if doc.source in seen_sources:
                raise IngestError(path, f"source id {doc.source!r} is already used by {seen_sources[doc.source]} (file stems must be unique)")
            seen_sources[doc.source] = str(path)
            chunks = chunk_document(doc, embedder.count_tokens, max_tokens, overlap)
        except IngestError as err:
            _fail(report, err, on_file)
            continue
        except (OSError, ValueError) as err:
            _fail(report, IngestError(path, str(err)), on_file)
            continue
        stored = store.stored(doc.source)
        stored_path = stored.path
        if stored_path and stored_path != doc.path and Path(stored_path).exists() and not _same_file(stored_path, doc.path):
            _fail(report, IngestError(path, f"source id {doc.source!r} is already used by {stored_path} "
                                            "(file stems must be unique; --prune after removing it to replace it)"), on_file)
            continue
        existing = stored.chunk_hashes
        new_ids = [c.id for c in chunks]
        if set(existing) == set(new_ids) and all(h == doc.content_hash for h in existing.values()):
            if stored_path != doc.path:  # moved or renamed folder: same content, new place
                store.mark_current(new_ids, doc.content_hash, doc.path, len(chunks))
            report.files_skipped += 1
            if on_file:
                on_file(str(path), "unchanged")
            continue
        todo = [c for c in chunks if c.id not in existing]
        vectors = _embed(embedder, [embedding_text(c.title, c.text) for c in todo], settings.embedding_batch_size, show, doc.source)
        store.add(todo, vectors, doc.content_hash, doc.path, doc.kind, document_metadata(doc))
        kept = [i for i in new_ids if i in existing]
        store.mark_current(kept, doc.content_hash, doc.path, len(chunks), document_metadata(doc))
        report.chunks_deleted += store.delete(i for i in existing if i not in set(new_ids))
        report.chunks_added += len(todo)
        report.files_ingested += 1
        changed = True
        if on_file:
            on_file(str(path), f"{len(todo)} chunks added")
    if prune:  # only documents under the paths given this run, whose files are gone
        gone = [s for s in store.sources() if s.path and s.source not in seen_sources
                and _under(s.path, roots) and not Path(s.path).exists()]
        for s in gone:
            report.chunks_deleted += store.delete(store.source_state(s.source))
            changed = True
    if changed:
        store.bump_fingerprint()
        store.refresh_lexical()  # save the BM25 index for the new fingerprint: searches load it
    report.chunks_total = store.count()
    report.seconds = time.perf_counter() - started
    return report


def _fail(report: IngestReport, err: IngestError, on_file: Callable[[str, str], None] | None) -> None:
    report.files_failed += 1
    report.errors.append({"file": err.path, "reason": err.reason})
    if on_file:
        on_file(err.path, f"failed: {err.reason}")


def _embed(embedder: Embedder, texts: list[str], batch: int, show: bool, label: str) -> list[list[float]]:
    if not texts:
        return []
    from tqdm import tqdm

    out: list[list[float]] = []
    with tqdm(total=len(texts), desc=f"embedding {label[:40]}", unit="chunk", disable=not show, leave=False, file=sys.stderr) as bar:
        for i in range(0, len(texts), batch):
            part = texts[i : i + batch]
            out.extend(embedder.embed(part))
            bar.update(len(part))
    return out
