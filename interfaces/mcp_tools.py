"""What `kb mcp` exposes, as plain functions over the knowledge base: search, ask, the list of
documents, a window of a transcript, ingest. Each returns a pydantic model (the tool's structured
output) with `as_text()` (the text a client model reads). Anticipated failures (an empty index, an
unknown document, the Chroma server or the model service down, a bad argument) are raised as
`ToolError` with a one-line reason, which the MCP server returns as a tool error.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from kb.settings import Settings
from kb.timecode import TimecodeError, format_timecode, parse_timecode
from kb.types import sentence_from_json, video_link

logger = logging.getLogger("kb.mcp")

MAX_K = 20  # passages per search
TRANSCRIPT_MAX_LINES = 120  # sentences per get_transcript call
TRANSCRIPT_MAX_CHARS = 12_000


# --- structured outputs -------------------------------------------------------------------------
class PassageOut(BaseModel):
    source: str = Field(description="document id (file stem); pass it as `source` to scope other tools")
    title: str
    at: str | None = Field(description="citation label: mm:ss (or h:mm:ss) of the best-matching sentence, or a ¶ locator")
    seconds: float | None = Field(description="the same time in seconds")
    best_sentence: str = Field(description="the sentence of the passage that best matches the query")
    text: str = Field(description="the passage")
    url: str | None = Field(description="link that opens the video at `at` (t= parameter)")
    score: float


class SearchResult(BaseModel):
    query: str
    passages: list[PassageOut]

    def as_text(self) -> str:
        if not self.passages:
            return f"No passages found for {self.query!r}."
        lines = []
        for n, p in enumerate(self.passages, 1):
            lines.append(f"{n}. [{p.at}] {p.title} ({p.source})" + (f" — {p.url}" if p.url else ""))
            lines.append(f"   best sentence: \u201c{p.best_sentence}\u201d")
            lines.append(f"   passage: {p.text}")
        return "\n".join(lines)


class CitationOut(BaseModel):
    source: str
    title: str = ""
    at: str | None = Field(description="mm:ss of the cited sentence")
    seconds: float | None = None
    url: str | None = Field(default=None, description="link that opens the video at that second")
    quote: str = Field(default="", description="the cited sentence")


class BriefResult(BaseModel):
    source: str
    title: str
    url: str | None = None
    tldr: dict[str, Any] = Field(description="text and citations")
    moments: list[dict[str, Any]] = Field(description="key moments in order: text, at, seconds, url, quote")
    chapters: list[dict[str, Any]] = Field(description="title, at, seconds, url, moments")
    figures: list[dict[str, Any]] = Field(description="value, unit, what, about, at, seconds, url, quote")
    mentioned: list[dict[str, Any]] = Field(description="name, kind, at, seconds, url, count, description")
    questions: list[dict[str, Any]] = Field(description="question, answer, citations: each checked by kb's own answer()")
    markdown: str = Field(default="", exclude=True)

    def as_text(self) -> str:
        return self.markdown


class AskResult(BaseModel):
    answer: str = Field(description="kb's verified answer; every [mm:ss] marker is a checked citation")
    citations: list[CitationOut]
    abstained: bool = Field(description="true when the knowledge base does not cover the question")
    thread_id: str = Field(description="pass it back as `thread_id` to ask a follow-up in the same conversation")
    backend: str

    def as_text(self) -> str:
        lines = [self.answer]
        if self.citations:
            lines += ["", "Sources:"]
            seen = set()
            for c in self.citations:
                if (c.source, c.at) not in seen:
                    seen.add((c.source, c.at))
                    lines.append(f"  [{c.at}] {c.title or c.source}" + (f" — {c.url}" if c.url else ""))
        lines.append(f"\n(thread_id {self.thread_id})")
        return "\n".join(lines)


class SourceOut(BaseModel):
    source: str = Field(description="document id (file stem)")
    title: str
    url: str | None = Field(description="the video or page the transcript belongs to")
    chunks: int
    duration_s: float | None = Field(description="time of the last timed sentence, in seconds (None for text documents)")
    duration: str | None = Field(description="the same as mm:ss / h:mm:ss")
    kind: str = Field(description="transcript, srt, vtt or text")
    ingested_at: float = Field(description="Unix time of the last ingest")
    resource: str = Field(description="the MCP resource with the whole transcript")


class SourcesResult(BaseModel):
    sources: list[SourceOut]

    def as_text(self) -> str:
        if not self.sources:
            return "The index is empty: run `kb ingest`."
        return "\n".join(
            f"{s.source} — {s.title} ({s.chunks} chunks" + (f", {s.duration}" if s.duration else "") + ")"
            + (f" {s.url}" if s.url else "") for s in self.sources)


class TranscriptLine(BaseModel):
    at: str | None = Field(description="mm:ss where the sentence starts, or a ¶ locator")
    seconds: float | None
    text: str
    url: str | None = Field(description="link that opens the video at this sentence")


class TranscriptResult(BaseModel):
    source: str
    title: str
    url: str | None
    lines: list[TranscriptLine]
    truncated: bool = Field(description="true when the window held more than one call returns")
    next_start: str | None = Field(description="when truncated: pass it as `start` to read on")

    def as_text(self) -> str:
        head = f"# {self.title} ({self.source})" + (f"\n{self.url}" if self.url else "")
        body = "\n".join(f"[{ln.at}] {ln.text}" if ln.at else ln.text for ln in self.lines) or "(no sentences in this window)"
        tail = f"\n… truncated; continue with start={self.next_start!r}" if self.truncated else ""
        return f"{head}\n\n{body}{tail}"


class IngestResult(BaseModel):
    files_seen: int
    files_ingested: int
    files_skipped: int
    files_failed: int
    chunks_added: int
    chunks_deleted: int
    chunks_total: int
    errors: list[dict[str, str]]

    def as_text(self) -> str:
        text = (f"{self.files_seen} files: {self.files_ingested} ingested, {self.files_skipped} unchanged, "
                f"{self.files_failed} failed; {self.chunks_added} chunks added, {self.chunks_total} in the index")
        return "\n".join([text] + [f"error: {e['file']}: {e['reason']}" for e in self.errors])


# --- errors -------------------------------------------------------------------------------------
@contextmanager
def tool_errors() -> Iterator[None]:
    """Turn the knowledge base's anticipated failures into a ToolError with a one-line reason."""
    from agent.models import ModelUnavailable
    from kb.errors import EmbeddingUnavailable, StoreUnavailable

    try:
        yield
    except ToolError:
        raise
    except (StoreUnavailable, EmbeddingUnavailable, ModelUnavailable, ValueError) as exc:
        raise ToolError(_one_line(exc)) from None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


@functools.cache
def answer_takes_source() -> bool:
    """Whether `agent.answer.answer` accepts `source=` (scoped questions); checked once."""
    from agent.answer import answer

    return "source" in inspect.signature(answer).parameters


# --- the operations -----------------------------------------------------------------------------
@dataclass
class Document:
    source: str
    title: str
    url: str | None
    kind: str
    lines: list[TranscriptLine]


class KBTools:
    """The knowledge base as MCP tools. The retriever (and the embedding model) load on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._retriever: Any = None
        self._store: Any = None
        self._lock = threading.Lock()
        self._ready = threading.Event()  # cleared while warm() loads the model in the background
        self._ready.set()

    @property
    def retriever(self) -> Any:
        with self._lock:
            if self._retriever is None:
                from kb.retrieval import Retriever

                self._retriever = Retriever(self.settings)
            return self._retriever

    @property
    def store(self) -> Any:
        """A store for reading documents (no embedding model needed)."""
        with self._lock:
            if self._store is None:
                from kb.store import Store

                self._store = Store(self.settings)
            return self._store

    def warm(self, background: bool = True) -> None:
        """Before serving: import what the tools use and open the index, in this thread, then load the
        embedding model and the BM25 indexes on another one (tool calls wait for it). The SDK runs tool
        calls on worker threads at once, and two threads importing chromadb (or torch) for the first
        time, or opening the same Chroma folder, can deadlock or fail."""
        import chromadb.utils.embedding_functions  # noqa: F401
        import langgraph.checkpoint.sqlite  # noqa: F401

        import agent.backends  # noqa: F401
        import ingest.pipeline  # noqa: F401
        import interfaces.log  # noqa: F401
        from agent.answer import get_agent
        from kb.errors import StoreUnavailable

        answer_takes_source()
        try:  # the three stores: documents, search, and the agent's (the embedding model loads on first use)
            for store in (self.store, self.retriever.store, get_agent(self.settings).retriever.store):
                store.exists()
        except StoreUnavailable as exc:  # served anyway: each call reports it until the store is back
            logger.warning("%s", exc)
            return
        self._ready.clear()
        loader = threading.Thread(target=self._load_model, name="kb-mcp-warm", daemon=True)
        loader.start()
        if not background:
            loader.join()

    def _load_model(self) -> None:
        from agent.answer import get_agent

        started = time.perf_counter()
        try:
            self.retriever.embedder.embed(["warm up"])
            if self.store.count():
                self.retriever.lexical()
            get_agent(self.settings).warm()
        except Exception as exc:  # each call reports it (e.g. the model cannot load) with its own error
            logger.warning("warming up: %s", _one_line(exc))
        finally:
            self._ready.set()
            logger.info("model and indexes loaded in %.1f s", time.perf_counter() - started)

    @contextmanager
    def _call(self) -> Iterator[None]:
        """Around each operation: wait for the warm-up, then report failures as ToolError."""
        self._ready.wait()
        with tool_errors():
            yield

    def require_source(self, source: str | None) -> None:
        """Raise ToolError for an empty index or a document id that is not in it."""
        self.store.require_documents()
        if source is None:
            return
        if not self.store.stored(source).chunk_hashes:
            known = [s.source for s in self.store.sources()]
            near = difflib.get_close_matches(source, known, n=1, cutoff=0.5)
            hint = f"did you mean {near[0]!r}?" if near else "list_sources lists them"
            raise ToolError(f"no document {source!r} in the index ({hint})")

    def search(self, query: str, k: int = 5, source: str | None = None) -> SearchResult:
        with self._call():
            if not query.strip():
                raise ToolError("the query is empty")
            self.require_source(source)
            passages = self.retriever.search(query, k=k, source=source)
        return SearchResult(query=query, passages=[
            PassageOut(source=p.source, title=p.title, at=p.at, seconds=p.at_s, best_sentence=p.best_sentence,
                       text=p.text, url=p.link or p.url, score=round(p.score, 6)) for p in passages])

    def ask(self, question: str, source: str | None = None, thread_id: str | None = None) -> AskResult:
        from agent.answer import answer

        with self._call():
            if not question.strip():
                raise ToolError("the question is empty")
            self.require_source(source)
            kwargs: dict[str, Any] = {}
            if source is not None:
                if not answer_takes_source():
                    raise ToolError("scoping a question to one document is not available in this kb version; "
                                    "ask without `source`, or use search with `source`")
                kwargs["source"] = source
            result = answer(question, thread_id=thread_id, settings=self.settings, **kwargs)
        self._record(result)
        return AskResult(answer=result.answer, citations=[_citation(c) for c in result.citations],
                         abstained=result.abstained, thread_id=result.thread_id, backend=result.backend)

    def _record(self, result: Any) -> None:
        from interfaces.log import record

        try:
            record(self.settings, "mcp", result)
        except Exception as exc:  # the question log is a convenience: never fail an answer for it
            logger.warning("could not log the question: %s", _one_line(exc))

    def brief(self, source: str) -> BriefResult:
        """The episode brief (built once per document version, then cached), as `kb brief` gives it."""
        from agent.brief.build import get_brief
        from agent.brief.document import UnknownSource
        from agent.brief.markdown import brief_markdown

        with self._call():
            try:
                data = get_brief(source, self.settings)
            except UnknownSource as exc:
                raise ToolError(_one_line(exc)) from None
        fields = {k: data.get(k) for k in BriefResult.model_fields if k != "markdown"}
        return BriefResult(**fields, markdown=brief_markdown(data))

    def list_sources(self) -> SourcesResult:
        with self._call():
            infos = self.store.sources() if self.store.exists() else []
            durations = self._durations()
        return SourcesResult(sources=[
            SourceOut(source=i.source, title=i.title, url=i.url, chunks=i.chunks, duration_s=durations.get(i.source),
                      duration=format_timecode(durations[i.source]) if i.source in durations else None, kind=i.kind,
                      ingested_at=i.ingested_at, resource=f"kb://sources/{i.source}") for i in infos])

    def _durations(self) -> dict[str, float]:
        if not self.store.exists():
            return {}
        _, _, metas = self.store.all_chunks()
        out: dict[str, float] = {}
        for m in metas:
            end = m.get("end_s")
            if end is not None:
                out[m.get("source", "?")] = max(out.get(m.get("source", "?"), 0.0), float(end))
        return out

    def document(self, source: str) -> Document:
        """A whole document's sentences, in order, from its stored chunks (overlaps removed)."""
        with self._call():
            self.require_source(source)
            store = self.store
            chunks = store.get(list(store.stored(source).chunk_hashes))
        ordered = sorted(chunks.values(), key=lambda dm: int(dm[1].get("ordinal", 0)))
        meta = ordered[0][1] if ordered else {}
        lines: list[TranscriptLine] = []
        seen: set[tuple[Any, ...]] = set()
        for _, m in ordered:
            for s in (sentence_from_json(d) for d in json.loads(m.get("sentences") or "[]")):
                key = (s.start_s, s.locator, s.text)
                if key in seen:
                    continue
                seen.add(key)
                at = format_timecode(s.start_s) if s.start_s is not None else s.locator
                lines.append(TranscriptLine(at=at, seconds=s.start_s, text=s.text, url=video_link(m.get("url"), s.start_s)))
        return Document(source, meta.get("title", source), meta.get("url") or None, meta.get("kind", ""), lines)

    def get_transcript(self, source: str, start: float | str | None = None, end: float | str | None = None) -> TranscriptResult:
        lo, hi = _seconds(start, "start"), _seconds(end, "end")
        if lo is not None and hi is not None and hi < lo:
            raise ToolError(f"end ({end}) is before start ({start})")
        doc = self.document(source)
        timed = any(ln.seconds is not None for ln in doc.lines)
        if (lo is not None or hi is not None) and not timed:
            raise ToolError(f"{source!r} has no timestamps (a text document): call get_transcript without start/end")
        window = [ln for ln in doc.lines if ln.seconds is None
                  or ((lo is None or ln.seconds >= lo - 0.5) and (hi is None or ln.seconds <= hi))]
        if lo is not None:  # include the sentence already running at `start`
            before = [ln for ln in doc.lines if ln.seconds is not None and ln.seconds < lo - 0.5]
            if before and (not window or window[0] is not before[-1]):
                window.insert(0, before[-1])
        kept, size = [], 0
        for ln in window:
            if len(kept) >= TRANSCRIPT_MAX_LINES or (kept and size + len(ln.text) > TRANSCRIPT_MAX_CHARS):
                break
            kept.append(ln)
            size += len(ln.text)
        truncated = len(kept) < len(window)
        nxt = window[len(kept)] if truncated else None
        return TranscriptResult(source=doc.source, title=doc.title, url=doc.url, lines=kept, truncated=truncated,
                                next_start=(nxt.at if nxt is not None and nxt.seconds is not None else None))

    def document_text(self, source: str) -> str:
        """The whole document as text: title, link, then `[mm:ss] sentence` lines."""
        doc = self.document(source)
        head = f"# {doc.title}" + (f"\n{doc.url}" if doc.url else "")
        return head + "\n\n" + "\n".join(f"[{ln.at}] {ln.text}" if ln.at else ln.text for ln in doc.lines) + "\n"

    def ingest(self, path_or_url: str) -> IngestResult:
        """A file or folder on the server, or a podcast feed / YouTube URL (as `kb ingest` takes them)."""
        from ingest.errors import IngestError
        from ingest.pipeline import ingest
        from ingest.sync import ingest_url, is_url

        target = path_or_url.strip()
        if not target:
            raise ToolError("give a file or folder path, or a feed or YouTube URL, to ingest")
        path = None if is_url(target) else Path(target).expanduser()
        if path is not None and not path.exists():
            raise ToolError(f"{path}: no such file or directory on the server")
        with self._call():
            retriever = self.retriever
            try:
                if path is not None:
                    report = ingest([path], settings=self.settings, store=retriever.store, embedder=retriever.embedder,
                                    progress=False)
                    failed, errors = report.files_failed, list(report.errors)
                else:
                    synced = ingest_url(target, self.settings, store=retriever.store, embedder=retriever.embedder)
                    report, failed = synced.ingest, synced.failed
                    errors = [{"file": i.url or i.source_url, "reason": i.reason} for i in synced.items
                              if i.status == "failed"] + list(report.errors)
            except IngestError as exc:  # e.g. the list of feeds in KB_HOME cannot be read
                raise ToolError(_one_line(exc)) from None
        data = {**report.to_json(), "files_failed": failed, "errors": errors}
        if failed and not (report.files_ingested or report.files_skipped):
            first = errors[0] if errors else {"file": target, "reason": "failed"}
            raise ToolError(f"{first['file']}: {first['reason']}")
        return IngestResult(**{k: data[k] for k in IngestResult.model_fields})


def _citation(c: dict[str, Any]) -> CitationOut:
    return CitationOut(source=c.get("source", "?"), title=c.get("title") or "", at=c.get("at"), seconds=c.get("seconds"),
                       url=c.get("url"), quote=c.get("quote") or "")


def _seconds(value: float | str | None, name: str) -> float | None:
    """`"10:31"`, `"631"` or 631 -> 631.0; None stays None; anything else is a ToolError."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int | float):
        if value < 0:
            raise ToolError(f"{name}={value}: must not be negative")
        return float(value)
    try:
        return parse_timecode(value)
    except TimecodeError:
        try:
            seconds = float(value)
        except ValueError:
            raise ToolError(f"{name}={value!r}: not a time (use mm:ss, h:mm:ss or seconds)") from None
        return _seconds(seconds, name)
