"""Podcast feeds: RSS/Atom parsed with `feedparser`, transcripts from Podcasting 2.0 tags.

Each item with a `<podcast:transcript>` becomes one document: its transcript (SRT, WebVTT or JSON
preferred over HTML or plain text; the KB_CAPTION_LANGUAGE one first) is downloaded with the
checked fetcher and written, with an `.info.json` of the episode's title, link, date and chapters
(`<podcast:chapters>`), to a folder under `KB_HOME/sources/`, the format ingest reads. The link is
the audio enclosure when there is one (a media fragment `#t=631` opens it at the second), else the
episode page. Feedparser keeps only one `podcast:transcript` per item, so the tags are also read
with ElementTree (which never fetches external entities).
"""

from __future__ import annotations

import calendar
import hashlib
import html
import json
import re
import time
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin
from xml.sax import SAXException

from ingest.fetch import Fetched, FetchError, fetch
from kb.settings import Settings
from kb.timecode import bracket_line_stamps

# transcript media types -> the extension ingest reads; the order is the preference
_TYPES: dict[str, str] = {
    "application/x-subrip": "srt", "application/srt": "srt", "text/srt": "srt", "text/x-srt": "srt",
    "text/vtt": "vtt", "text/webvtt": "vtt",
    "application/json": "json", "application/x-json": "json", "text/json": "json",
    "text/html": "html", "application/xhtml+xml": "html",
    "text/plain": "txt",
}
_PREFERENCE = ("srt", "vtt", "json", "html", "txt")


@dataclass(frozen=True)
class Transcript:
    url: str
    type: str = ""
    language: str = ""

    @property
    def format(self) -> str | None:
        """srt | vtt | json | html | txt from the declared type, else the URL's extension."""
        fmt = _TYPES.get(self.type.lower().split(";")[0].strip())
        if fmt:
            return fmt
        ext = re.search(r"\.([a-z0-9]+)$", self.url.split("?")[0].split("#")[0].lower())
        ext_name = ext.group(1) if ext else ""
        return {"htm": "html", "text": "txt", "webvtt": "vtt"}.get(ext_name, ext_name if ext_name in _PREFERENCE else None)


@dataclass
class Episode:
    guid: str
    title: str
    page: str | None = None
    media: str | None = None
    published: str | None = None
    transcripts: list[Transcript] = field(default_factory=list)
    chapters_url: str | None = None

    @property
    def link(self) -> str | None:
        """Where a citation points: the enclosure (seekable with `#t=`), else the episode page."""
        return self.media or self.page

    @property
    def fingerprint(self) -> str:
        """Changes when anything kb reads from the item changes."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class Feed:
    url: str
    title: str
    episodes: list[Episode]


def parse_feed(url: str, content: bytes) -> Feed:
    """The feed's episodes; FetchError(url, reason) when it is not an RSS or Atom feed."""
    import feedparser

    parsed = feedparser.parse(content, sanitize_html=False, resolve_relative_uris=False)
    exc = parsed.get("bozo_exception")
    if isinstance(exc, SAXException):  # broken XML: refused rather than half-read
        raise FetchError(url, f"not an RSS or Atom feed: invalid XML ({_first_line(exc)})")
    if not parsed.get("version") and not parsed.entries:
        raise FetchError(url, "not an RSS or Atom feed: no <rss> or <feed> element")
    by_guid, by_index = _transcript_tags(content)
    title = str(parsed.feed.get("title") or url).strip()
    episodes = []
    for n, entry in enumerate(parsed.entries):
        guid = str(entry.get("id") or entry.get("link") or entry.get("title") or f"item-{n + 1}")
        transcripts, chapters = by_index[n] if len(by_index) == len(parsed.entries) else by_guid.get(guid, ([], None))
        if not transcripts and entry.get("podcast_transcript"):  # XML too broken for ElementTree
            t = entry["podcast_transcript"]
            transcripts = [Transcript(t.get("url", ""), t.get("type", ""), t.get("language", ""))]
        if chapters is None and entry.get("podcast_chapters"):
            chapters = entry["podcast_chapters"].get("url")
        media = next((ln.get("href") for ln in entry.get("links", []) if ln.get("rel") == "enclosure" and ln.get("href")), None)
        episodes.append(Episode(
            guid=guid, title=str(entry.get("title") or f"Episode {n + 1}").strip(), page=_web_link(url, entry.get("link")),
            media=_web_link(url, media), published=_date(entry),
            transcripts=[replace(t, url=urljoin(url, t.url)) for t in transcripts if t.url],  # relative to the feed
            chapters_url=urljoin(url, chapters) if chapters else None,
        ))
    return Feed(url, title, episodes)


Tags = tuple[list[Transcript], str | None]


def _transcript_tags(content: bytes) -> tuple[dict[str, Tags], list[Tags]]:
    """Each item's (transcripts, chapters URL) by guid and in order, read with ElementTree."""
    try:
        root = ET.fromstring(content)
    except ET.ParseError:
        return {}, []
    by_guid: dict[str, Tags] = {}
    by_index: list[Tags] = []
    items = [el for el in root.iter() if _local(el.tag) in ("item", "entry")]
    for item in items:
        transcripts: list[Transcript] = []
        chapters, guid = None, None
        for child in item:
            name, ns = _local(child.tag), _namespace(child.tag)
            if name in ("guid", "id") and (child.text or "").strip():
                guid = child.text.strip()  # type: ignore[union-attr]
            elif "podcastindex" in ns and name == "transcript":
                transcripts.append(Transcript(child.get("url", "").strip(), child.get("type", "").strip(),
                                              child.get("language", "").strip()))
            elif "podcastindex" in ns and name == "chapters":
                chapters = child.get("url")
        by_index.append((transcripts, chapters))
        if guid:
            by_guid[guid] = (transcripts, chapters)
    return by_guid, by_index


def _web_link(feed_url: str, link: Any) -> str | None:
    """An http(s) link for citations, else None (a feed's `javascript:` or `file:` link is dropped)."""
    if not isinstance(link, str) or not link.strip():
        return None
    absolute = urljoin(feed_url, link.strip())
    return absolute if absolute.lower().startswith(("http://", "https://")) else None


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _namespace(tag: Any) -> str:
    return tag[1:].split("}", 1)[0] if isinstance(tag, str) and tag.startswith("{") else ""


def _date(entry: Any) -> str | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    return time.strftime("%Y-%m-%d", time.gmtime(calendar.timegm(parsed)))


def choose_transcript(episode: Episode, language: str) -> Transcript | None:
    """SRT, WebVTT or JSON before HTML or text; the wanted language first; unknown formats last."""
    def rank(t: Transcript) -> tuple[int, int]:
        fmt = t.format
        lang_ok = not t.language or t.language.lower().split("-")[0] == language.lower().split("-")[0]
        return (_PREFERENCE.index(fmt) if fmt in _PREFERENCE else len(_PREFERENCE), 0 if lang_ok else 1)

    return min(episode.transcripts, key=rank) if episode.transcripts else None


def sniff_format(fetched: Fetched, declared: str | None) -> str | None:
    """The transcript's format: declared, else the response's media type, else its first bytes."""
    head = fetched.content[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"WEBVTT"):
        return "vtt"
    if declared in _PREFERENCE:
        return declared
    by_type = _TYPES.get(fetched.content_type)
    if by_type:
        return by_type
    if head[:1] in (b"{", b"["):
        return "json"
    if re.match(rb"\d+\s*\r?\n\d{1,2}:\d{2}:\d{2}[,.]\d{3}\s*-->", head):
        return "srt"
    if head[:1] == b"<":
        return "html"
    return None


class _Text(HTMLParser):
    """Visible text of an HTML transcript, one line per block element."""

    _BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "cite", "time"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag in self._BLOCKS:
            self.lines.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head") and self._skip:
            self._skip -= 1
        elif tag in self._BLOCKS:
            self.lines.append("")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.lines[-1] += data


def html_to_text(data: bytes) -> str:
    parser = _Text()
    parser.feed(data.decode("utf-8", errors="replace"))
    lines = [" ".join(html.unescape(ln).split()) for ln in parser.lines]
    text = "\n".join(ln for ln in lines if ln)
    return bracket_line_stamps(text)  # "00:12 text" -> "[00:12] text"


def slug(text: str, limit: int = 50) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:limit].strip("-")


def episode_stem(feed: Feed, episode: Episode) -> str:
    """A file stem (the document id) unique to the episode: `episode-title-1a2b3c`."""
    digest = hashlib.sha1(f"{feed.url}\n{episode.guid}".encode()).hexdigest()[:6]
    return f"{slug(episode.title) or 'episode'}-{digest}"


def episode_files(stem: str, feed: Feed, episode: Episode, transcript: Transcript, fetched: Fetched, fmt: str,
                  chapters: Any) -> dict[str, bytes]:
    """{file name: bytes}: `STEM.info.json` and the transcript `STEM.<lang>.<ext>` (HTML as text)."""
    lang = slug(transcript.language, 12) or "transcript"
    body = fetched.content
    if fmt == "html":
        body, fmt = html_to_text(body).encode(), "txt"
    info = {
        "title": episode.title, "webpage_url": episode.link, "episode_page": episode.page, "media_url": episode.media,
        "published": episode.published, "feed": feed.title, "feed_url": feed.url, "guid": episode.guid,
        "transcript_url": fetched.url, "chapters": chapters or [],
    }
    return {f"{stem}.info.json": json.dumps(info, indent=1, ensure_ascii=False).encode(), f"{stem}.{lang}.{fmt}": body}


def fetch_chapters(url: str | None, settings: Settings) -> tuple[list[dict[str, Any]], str | None]:
    """Podcasting 2.0 chapters JSON as yt-dlp-style dicts; ([], warning) when it cannot be read."""
    if not url:
        return [], None
    from ingest.json_transcripts import chapters_from

    try:
        data = json.loads(fetch(url, settings).content)
    except FetchError as exc:
        return [], f"chapters not read: {exc}"
    except ValueError:
        return [], f"chapters not read: {url}: not JSON"
    return [{"start_time": c.start_s, "title": c.title} for c in chapters_from(data)], None


def write_files(folder: Path, files: dict[str, bytes]) -> Path:
    """Write the files; returns the path of the `.info.json`."""
    folder.mkdir(parents=True, exist_ok=True)
    info = folder
    for name, data in files.items():
        (folder / name).write_bytes(data)
        if name.endswith(".info.json"):
            info = folder / name
    return info


def _first_line(exc: Any) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]
