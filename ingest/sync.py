"""`kb ingest URL` and `kb sync`: podcast feeds and YouTube videos/playlists, remembered in KB_HOME.

A URL is read (feed: `ingest.feeds`; YouTube: `ingest.youtube`), each new or changed episode's
transcript is downloaded and checked (parsed) in a hidden scratch folder, moved into the URL's
folder under `KB_HOME/sources/`, and the checked files go through the ordinary ingest pipeline.
`KB_HOME/sources/sources.json` remembers every URL and, per episode, what the feed said about it
(a fingerprint), so `kb sync` downloads only episodes that are new or whose item changed; one that
failed is tried again. `--prune` drops episodes gone from their feed. A feed that cannot be read
changes nothing: nothing stored is removed unless the feed was read.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ingest.errors import IngestError
from ingest.fetch import FetchError, check_url, fetch
from ingest.pipeline import IngestReport
from kb.settings import Settings

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
REGISTRY = "sources.json"


def is_url(arg: str) -> bool:
    """`kb ingest` arguments with a scheme (`https://…`, also `file://…`, refused later) are URLs."""
    return bool(_SCHEME.match(arg))


@dataclass
class ItemResult:
    """What happened to one episode or video (or to the feed itself, when `item` is empty)."""

    source_url: str  # the feed or playlist
    item: str  # episode title or video URL
    status: str  # ingested | unchanged | skipped | failed | pruned
    reason: str = ""
    url: str = ""  # the URL that failed or was read
    source: str = ""  # the document id
    repeat: bool = False  # skipped for the same reason at an earlier run

    def line(self) -> str:
        what = f"{self.item!r}" if self.item else self.source_url
        if self.status == "failed":
            return f"{self.url or self.source_url}: {self.reason}" + (f" (episode {what})" if self.item else "")
        return f"{what}: {self.status}" + (f" ({self.reason})" if self.reason else "") + (f" as {self.source}" if self.source and self.status == "ingested" else "")


@dataclass
class SyncReport:
    items: list[ItemResult] = field(default_factory=list)
    ingest: IngestReport = field(default_factory=IngestReport)

    @property
    def failed(self) -> int:
        return sum(1 for i in self.items if i.status == "failed") + self.ingest.files_failed

    def count(self, status: str) -> int:
        return sum(1 for i in self.items if i.status == status)

    def summary_line(self) -> str:
        counts = ", ".join(f"{self.count(s)} {s}" for s in ("ingested", "unchanged", "skipped", "failed", "pruned") if self.count(s))
        r = self.ingest
        return (f"{len({i.source_url for i in self.items})} feeds/playlists: {counts or 'nothing to do'}; "
                f"{r.chunks_added} chunks added, {r.chunks_deleted} deleted, {r.chunks_total} in the index")

    def to_json(self) -> dict[str, Any]:
        return {"items": [asdict(i) for i in self.items], "failed": self.failed, **self.ingest.to_json()}


# --- the registry -------------------------------------------------------------------------------

def registry_path(settings: Settings) -> Path:
    return settings.sources_path / REGISTRY


def load_registry(settings: Settings) -> dict[str, Any]:
    path = registry_path(settings)
    if not path.exists():
        return {"version": 1, "sources": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IngestError(path, f"cannot read the list of feeds: {exc}") from None
    data.setdefault("sources", {})
    return data


def save_registry(settings: Settings, data: dict[str, Any]) -> None:
    path = registry_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)


def feeds_summary(settings: Settings) -> list[dict[str, Any]]:
    """Every remembered feed/playlist: url, kind, title, added/synced times, counts by status."""
    out = []
    for url, entry in load_registry(settings).get("sources", {}).items():
        counts: dict[str, int] = {}
        for item in entry.get("items", {}).values():
            counts[item.get("status", "?")] = counts.get(item.get("status", "?"), 0) + 1
        out.append({"url": url, "kind": entry.get("kind"), "title": entry.get("title"), "added_at": entry.get("added_at"),
                    "synced_at": entry.get("synced_at"), "last_error": entry.get("last_error"), "episodes": counts})
    return out


# --- entry points ---------------------------------------------------------------------------------

OnItem = Callable[[ItemResult], None]


def ingest_url(url: str, settings: Settings | None = None, store: Any = None, embedder: Any = None,
               prune: bool = False, on_item: OnItem | None = None, ydl_factory: Any = None) -> SyncReport:
    """Ingest a podcast feed or YouTube video/playlist URL and remember it for `kb sync`."""
    settings = settings or Settings.from_env()
    report = SyncReport()
    registry = load_registry(settings)
    run = _Run(settings, registry, report, store, embedder, on_item, ydl_factory)
    run.one(url.strip(), prune)
    return _finish(run)


def sync(settings: Settings | None = None, store: Any = None, embedder: Any = None, prune: bool = False,
         on_item: OnItem | None = None, ydl_factory: Any = None) -> SyncReport:
    """Re-read every remembered URL; ingest only new or changed episodes (`prune`: drop gone ones)."""
    settings = settings or Settings.from_env()
    report = SyncReport()
    registry = load_registry(settings)
    run = _Run(settings, registry, report, store, embedder, on_item, ydl_factory)
    for url in list(registry["sources"]):
        run.one(url, prune)
    return _finish(run)


def _finish(run: _Run) -> SyncReport:
    save_registry(run.settings, run.registry)
    run.report.ingest.chunks_total = run._store().count()
    return run.report


class _Run:
    """One `kb ingest URL…` or `kb sync`: the shared state of reading several URLs."""

    def __init__(self, settings: Settings, registry: dict[str, Any], report: SyncReport, store: Any, embedder: Any,
                 on_item: OnItem | None, ydl_factory: Any) -> None:
        self.settings, self.registry, self.report = settings, registry, report
        self.store, self.embedder, self.on_item, self.ydl_factory = store, embedder, on_item, ydl_factory

    def note(self, result: ItemResult) -> ItemResult:
        self.report.items.append(result)
        if self.on_item:
            self.on_item(result)
        return result

    def one(self, url: str, prune: bool) -> None:
        from ingest.youtube import is_youtube_url

        entry = self.registry["sources"].get(url) or {"kind": "youtube" if is_youtube_url(url) else "feed",
                                                      "added_at": time.time(), "items": {}}
        try:
            check_url(url)
            if entry["kind"] == "youtube":
                title, found = self._youtube(url, entry)
            else:
                title, found = self._feed(url, entry)
        except FetchError as exc:
            entry["last_error"] = exc.reason
            if url in self.registry["sources"]:
                self.registry["sources"][url] = entry
            self.note(ItemResult(url, "", "failed", exc.reason, exc.url))
            return
        entry.update(title=title, synced_at=time.time(), last_error=None)
        self.registry["sources"][url] = entry
        if prune:
            self._prune(url, entry, found)

    # --- feeds ------------------------------------------------------------------------------------
    def _feed(self, url: str, entry: dict[str, Any]) -> tuple[str, set[str]]:
        from ingest.feeds import choose_transcript, episode_stem, parse_feed

        feed = parse_feed(url, fetch(url, self.settings).content)
        if not any(ep.transcripts for ep in feed.episodes) and not entry.get("items"):
            raise FetchError(url, f"none of its {len(feed.episodes)} episodes has a transcript (<podcast:transcript>); nothing to ingest")
        folder = self._folder(entry, feed.title, url)
        items = entry.setdefault("items", {})
        todo: dict[Path, tuple[str, ItemResult]] = {}
        results: list[ItemResult] = []  # in the feed's order, reported once all are ingested
        for ep in feed.episodes:
            prev = items.get(ep.guid)
            if prev and prev.get("fingerprint") == ep.fingerprint and prev.get("status") in ("ingested", "skipped") \
                    and (prev["status"] == "skipped" or self._present(folder, prev)):
                results.append(ItemResult(url, ep.title, "unchanged" if prev["status"] == "ingested" else "skipped",
                                          prev.get("reason", ""), source=prev.get("source", ""), repeat=True))
                continue
            transcript = choose_transcript(ep, self.settings.fetch.caption_language)
            if transcript is None:
                reason = "no podcast:transcript in the item"
                items[ep.guid] = {"fingerprint": ep.fingerprint, "status": "skipped", "reason": reason, "title": ep.title}
                results.append(ItemResult(url, ep.title, "skipped", reason))
                continue
            stem = (prev or {}).get("source") or episode_stem(feed, ep)  # the id stays when the title changes
            result = self._episode(feed, ep, transcript, folder, stem)
            results.append(result)
            items[ep.guid] = {"fingerprint": ep.fingerprint, "status": result.status, "reason": result.reason,
                              "title": ep.title, "source": result.source, "url": transcript.url}
            if result.status == "ingested":
                todo[folder / f"{result.source}.info.json"] = (ep.guid, result)
        self._ingest(todo, items)
        for result in results:
            self.note(result)
        return feed.title, {ep.guid for ep in feed.episodes}

    def _episode(self, feed: Any, ep: Any, transcript: Any, folder: Path, stem: str) -> ItemResult:
        from ingest.feeds import episode_files, fetch_chapters, sniff_format

        try:
            fetched = fetch(transcript.url, self.settings)
        except FetchError as exc:
            return ItemResult(feed.url, ep.title, "failed", exc.reason, exc.url)
        fmt = sniff_format(fetched, transcript.format)
        if fmt is None:
            return ItemResult(feed.url, ep.title, "failed", f"unknown transcript format (type {transcript.type or fetched.content_type or 'not given'!r}; "
                              "SRT, WebVTT, JSON, HTML or text are read)", transcript.url)
        chapters, warning = fetch_chapters(ep.chapters_url, self.settings)
        files = episode_files(stem, feed, ep, transcript, fetched, fmt, chapters)
        reason = self._checked_move(files, folder)
        if reason:
            return ItemResult(feed.url, ep.title, "failed", reason, transcript.url)
        return ItemResult(feed.url, ep.title, "ingested", warning or "", transcript.url, stem)

    # --- YouTube ----------------------------------------------------------------------------------
    def _youtube(self, url: str, entry: dict[str, Any]) -> tuple[str, set[str]]:
        from ingest.youtube import download_captions, list_entries

        title, videos, errors = list_entries(url, self.settings, self.ydl_factory)
        if not videos:
            raise FetchError(url, errors[0] if errors else "no videos found")
        folder = self._folder(entry, title, url)
        items = entry.setdefault("items", {})
        todo: dict[Path, tuple[str, ItemResult]] = {}
        results: list[ItemResult] = []
        for video in videos:
            prev = items.get(video)
            if prev and prev.get("status") == "ingested" and self._present(folder, prev):
                results.append(ItemResult(url, prev.get("title") or video, "unchanged", source=prev.get("source", ""), repeat=True))
                continue
            scratch = self._scratch()
            try:
                info, errs = download_captions(video, self.settings, scratch, self.ydl_factory)
                reason = "" if info else (errs[0] if errs else "yt-dlp wrote no info file")
                if info:
                    files = {p.name: p.read_bytes() for p in scratch.iterdir() if p.is_file()}
                    reason = self._checked_move(files, folder) or ""
                    if reason.startswith("no captions") and errs:  # yt-dlp said why (a caption download failed)
                        reason = errs[0]
                    elif reason.startswith("no captions"):
                        lang = self.settings.fetch.caption_language
                        reason = f"no {lang!r} captions, manual or automatic (KB_CAPTION_LANGUAGE={lang})"
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            if reason:
                items[video] = {"status": "failed", "reason": reason, "title": video}
                results.append(ItemResult(url, video, "failed", reason, video))
                continue
            from ingest.youtube import info_stem, info_summary

            stem = info_stem(info)  # type: ignore[arg-type]
            vtitle = info_summary(folder / info.name).get("title") or video  # type: ignore[union-attr]
            items[video] = {"status": "ingested", "title": vtitle, "source": stem, "url": video}
            results.append(ItemResult(url, vtitle, "ingested", "", video, stem))
            todo[folder / info.name] = (video, results[-1])  # type: ignore[union-attr]
        self._ingest(todo, items)
        for result in results:
            self.note(result)
        return title, set(videos)

    # --- shared -----------------------------------------------------------------------------------
    def _folder(self, entry: dict[str, Any], title: str, url: str) -> Path:
        from ingest.feeds import slug

        if not entry.get("folder"):
            entry["folder"] = f"{slug(title, 40) or 'feed'}-{hashlib.sha1(url.encode()).hexdigest()[:8]}"
        return self.settings.sources_path / entry["folder"]

    @staticmethod
    def _present(folder: Path, prev: dict[str, Any]) -> bool:
        return bool(prev.get("source")) and (folder / f"{prev['source']}.info.json").is_file()

    def _scratch(self) -> Path:
        self.settings.sources_path.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=".incoming-", dir=self.settings.sources_path))

    def _checked_move(self, files: dict[str, bytes], folder: Path) -> str | None:
        """Parse the files in a scratch folder; move them into `folder` when they parse, else the reason."""
        from ingest.feeds import write_files
        from ingest.loaders import load_document

        scratch = self._scratch()
        try:
            info = write_files(scratch, files)
            try:
                load_document(info)
            except IngestError as exc:
                return exc.reason
            except (OSError, ValueError) as exc:
                return str(exc)
            folder.mkdir(parents=True, exist_ok=True)
            stem = info.name[: -len(".info.json")]
            for old in folder.glob(f"{stem}.*"):  # an earlier version's transcript may have another extension
                old.unlink()
            for path in scratch.iterdir():
                path.replace(folder / path.name)
            return None
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _ingest(self, todo: dict[Path, tuple[str, ItemResult]], items: dict[str, Any]) -> None:
        """The checked episodes through the ingest pipeline; a failure there marks the episode's result failed."""
        if not todo:
            return
        from ingest.pipeline import ingest

        failures: dict[str, str] = {}

        def on_file(path: str, status: str) -> None:
            if status.startswith("failed: "):
                failures[str(Path(path).absolute())] = status.removeprefix("failed: ")

        rep = ingest(list(todo), settings=self.settings, store=self._store(), embedder=self.embedder,
                     progress=False, on_file=on_file)
        for path, (key, result) in todo.items():
            reason = failures.get(str(path.absolute()))
            if reason:
                result.status, result.reason = "failed", reason
                items[key]["status"], items[key]["reason"] = "failed", reason
        _add(self.report.ingest, rep)
        self.report.ingest.files_failed -= rep.files_failed  # counted once, as failed items
        self.report.ingest.errors = []

    def _prune(self, url: str, entry: dict[str, Any], found: set[str]) -> None:
        gone = [k for k in entry.get("items", {}) if k not in found]
        if not gone:
            return
        store = self._store()
        folder = self.settings.sources_path / entry["folder"]
        for key in gone:
            item = entry["items"].pop(key)
            source = item.get("source")
            if source:
                self.report.ingest.chunks_deleted += store.delete(store.stored(source).chunk_hashes)
                for path in folder.glob(f"{source}.*"):
                    path.unlink()
            self.note(ItemResult(url, item.get("title") or key, "pruned", "gone from the feed", source=source or ""))
        store.bump_fingerprint()
        from ingest.pipeline import prune_sentence_vectors
        from kb.embeddings import get_embedder
        from kb.vector_cache import for_settings

        cache = for_settings(self.settings, self.embedder or get_embedder(self.settings))
        self.report.ingest.sentence_vectors_dropped += prune_sentence_vectors(store, cache)
        if cache is not None:
            cache.close()

    def _store(self) -> Any:
        if self.store is None:
            from kb.store import Store

            self.store = Store(self.settings, self.embedder)
        return self.store


def _add(total: IngestReport, part: IngestReport) -> None:
    for name in ("files_seen", "files_ingested", "files_skipped", "files_failed", "chunks_added", "chunks_deleted",
                 "sentences_embedded", "sentence_vectors_dropped"):
        setattr(total, name, getattr(total, name) + getattr(part, name))
    total.chunks_total = part.chunks_total
    total.seconds += part.seconds
