"""YouTube: captions through `yt-dlp` (as a library, no media downloaded), and folders that
`yt-dlp --write-info-json --write-subs` writes (`NAME.info.json` beside `NAME.en.vtt`).

Both end as the same thing on disk: the live path runs yt-dlp into a folder under
`KB_HOME/sources/`, and one `NAME.info.json` with its captions is one document, with the video's
URL, title, channel, upload date and chapters from the info file.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ingest.errors import IngestError
from kb.links import is_youtube
from kb.settings import Settings
from kb.types import Document

INFO_SUFFIX = ".info.json"
CAPTION_SUFFIXES = (".vtt", ".srt", ".json", ".txt")  # in order of preference


def is_info_json(path: Path) -> bool:
    return path.name.lower().endswith(INFO_SUFFIX)


def info_stem(path: Path) -> str:
    """`talk.info.json` -> `talk`."""
    return path.name[: -len(INFO_SUFFIX)]


def is_companion(path: Path) -> bool:
    """True for a file written beside a `NAME.info.json` (`NAME.en.vtt`, `NAME.live_chat.json`):
    it is part of that document, not a document of its own."""
    if is_info_json(path):
        return False
    name = path.name
    return any((path.parent / f"{name[:i]}{INFO_SUFFIX}").is_file() for i, ch in enumerate(name) if ch == "." and i > 0)


def captions_for(info_path: Path, info: dict[str, Any]) -> Path | None:
    """The caption file of a video: `NAME.<lang>.vtt|srt|json`; the video's own language first,
    then manual captions (listed in the info's `subtitles`), then by name."""
    stem = info_stem(info_path)
    found = [p for p in info_path.parent.glob(f"{_glob_escape(stem)}.*")
             if p.suffix.lower() in CAPTION_SUFFIXES and not is_info_json(p) and p.is_file()
             and "live_chat" not in p.name]
    if not found:
        return None
    manual = set((info.get("subtitles") or {}).keys()) if isinstance(info.get("subtitles"), dict) else set()
    language = str(info.get("language") or "")

    def rank(p: Path) -> tuple[int, int, int, str]:
        lang = p.name[len(stem) + 1 : -len(p.suffix)]
        return (0 if language and lang.split("-")[0] == language.split("-")[0] else 1,
                0 if lang in manual else 1, CAPTION_SUFFIXES.index(p.suffix.lower()), p.name)

    return min(found, key=rank)


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]" else c for c in text)


def parse_info_json(path: Path, text: str) -> Document:
    """One document from `NAME.info.json` and the captions beside it."""
    from ingest.json_transcripts import chapters_from, load_json

    info = load_json(path, text)
    captions = captions_for(path, info)
    if captions is None:
        raise IngestError(path, f"no captions beside it (expected {info_stem(path)}.<lang>.vtt; "
                                "run yt-dlp with --write-subs or --write-auto-subs)")
    doc = _parse_captions(captions)
    digest = hashlib.sha256(text.encode() + b"\0" + captions.read_bytes()).hexdigest()
    title = str(info.get("title") or info.get("fulltitle") or doc.title).strip()
    return replace(
        doc, source=info_stem(path), title=title, path=str(path), url=_url(info) or doc.url,
        kind="info.json", content_hash=digest, chapters=chapters_from(info),
        published=_published(info), feed=_channel(info),
    )


def _parse_captions(path: Path) -> Document:
    from ingest.loaders import read_text

    text, _ = read_text(path)
    suffix = path.suffix.lower()
    if suffix == ".srt":
        from ingest.subtitles import parse_srt

        return parse_srt(path, text)
    if suffix == ".vtt":
        from ingest.subtitles import parse_vtt

        return parse_vtt(path, dedupe_rolling_captions(text))
    if suffix == ".json":
        from ingest.json_transcripts import parse_json_transcript

        return parse_json_transcript(path, text)
    from ingest.text import parse_plain
    from ingest.transcripts import looks_like_transcript, parse_transcript

    return parse_transcript(path, text) if looks_like_transcript(text) else parse_plain(path, text)


_TAG = re.compile(r"<[^>]+>")


def dedupe_rolling_captions(text: str) -> str:
    """YouTube's automatic captions (word timings in `<c>` tags) repeat each line in the next cue
    as it scrolls up; keep each line once, in the cue where it first appears."""
    if "<c>" not in text:
        return text
    out: list[str] = []
    previous: set[str] = set()
    for block in text.replace("\r\n", "\n").split("\n\n"):
        lines = block.split("\n")
        arrow = next((i for i, line in enumerate(lines) if "-->" in line), None)
        if arrow is None:
            out.append(block)
            continue
        body = lines[arrow + 1 :]
        plain = [" ".join(_TAG.sub("", line).split()) for line in body]
        kept = [line for line, p in zip(body, plain) if p and p not in previous]
        previous = {p for p in plain if p}
        if kept:
            out.append("\n".join(lines[: arrow + 1] + kept))
    return "\n\n".join(out)


def _url(info: dict[str, Any]) -> str | None:
    for key in ("webpage_url", "original_url", "url"):
        value = info.get(key)
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return value
    if info.get("id") and str(info.get("extractor_key", info.get("extractor", ""))).lower().startswith("youtube"):
        return f"https://www.youtube.com/watch?v={info['id']}"
    return None


def _published(info: dict[str, Any]) -> str | None:
    if isinstance(info.get("published"), str) and info["published"]:
        return info["published"]
    for key in ("upload_date", "release_date"):
        value = str(info.get(key) or "")
        if len(value) == 8 and value.isdigit():
            return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return None


def _channel(info: dict[str, Any]) -> str | None:
    for key in ("feed", "channel", "uploader", "playlist_title"):
        if isinstance(info.get(key), str) and info[key].strip():
            return info[key].strip()
    return None


# --- the live path: yt-dlp as a library --------------------------------------------------------

YdlFactory = Callable[[dict[str, Any]], Any]


class _Log:
    """yt-dlp's logger: keeps errors (one line each), drops the chatter."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def debug(self, msg: str) -> None:
        pass

    info = debug

    def warning(self, msg: str) -> None:
        if "Unable to download" in msg:  # a failed caption download is only a warning to yt-dlp
            self.error(msg.removeprefix("WARNING: "))

    def error(self, msg: str) -> None:
        self.errors.append(msg.removeprefix("ERROR: ").splitlines()[0][:300])


def ydl_params(settings: Settings, out_dir: Path, logger: Any) -> dict[str, Any]:
    """Captions (manual, else automatic, in KB_CAPTION_LANGUAGE) and the info file; no media."""
    return {
        "skip_download": True, "writesubtitles": True, "writeautomaticsub": True,
        "subtitleslangs": [settings.fetch.caption_language], "subtitlesformat": "vtt/srt/best",
        "writeinfojson": True, "allow_playlist_files": False, "ignore_no_formats_error": True,
        "ignoreerrors": True, "noprogress": True, "quiet": True, "no_warnings": True, "logger": logger,
        "socket_timeout": settings.fetch.timeout_s, "outtmpl": {"default": str(out_dir / "%(id)s.%(ext)s")},
        "paths": {"home": str(out_dir)}, "retries": settings.fetch.retries, "noplaylist": False,
    }


def _default_factory(params: dict[str, Any]) -> Any:
    import yt_dlp

    return yt_dlp.YoutubeDL(params)


def list_entries(url: str, settings: Settings, factory: YdlFactory | None = None) -> tuple[str, list[str], list[str]]:
    """(title, video URLs, errors) of a video or playlist URL, without fetching each video."""
    log = _Log()
    params = {"extract_flat": "in_playlist", "quiet": True, "no_warnings": True, "logger": log,
              "socket_timeout": settings.fetch.timeout_s, "ignoreerrors": True, "skip_download": True,
              "ignore_no_formats_error": True}
    from yt_dlp.utils import YoutubeDLError

    try:
        with (factory or _default_factory)(params) as ydl:
            info = ydl.extract_info(url, download=False, process=False)
            if info and info.get("_type") in ("playlist", "multi_video"):
                entries = [e for e in info.get("entries") or [] if e]
                urls = [e.get("webpage_url") or e.get("url") for e in entries]
                return str(info.get("title") or url), [u for u in urls if u], log.errors
    except YoutubeDLError as exc:
        return "", [], [*log.errors, _first_line(exc)]
    if not info:
        return "", [], log.errors or ["yt-dlp found nothing"]
    return str(info.get("title") or url), [info.get("webpage_url") or info.get("url") or url], log.errors


def download_captions(video_url: str, settings: Settings, out_dir: Path,
                      factory: YdlFactory | None = None) -> tuple[Path | None, list[str]]:
    """Write `ID.info.json` and `ID.<lang>.vtt` for one video into `out_dir`; (info path, errors)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    from yt_dlp.utils import YoutubeDLError

    log = _Log()
    try:
        with (factory or _default_factory)(ydl_params(settings, out_dir, log)) as ydl:
            info = ydl.extract_info(video_url, download=True)
    except YoutubeDLError as exc:
        return None, [*log.errors, _first_line(exc)]
    if not info or not info.get("id"):
        return None, log.errors or ["yt-dlp returned no video"]
    path = out_dir / f"{info['id']}{INFO_SUFFIX}"
    return (path if path.is_file() else None), log.errors


def is_youtube_url(url: str) -> bool:
    return is_youtube(url)


def info_summary(path: Path) -> dict[str, Any]:
    """Title and URL from an info file (for messages)."""
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {"title": info.get("title"), "url": _url(info)}


def _first_line(exc: Exception) -> str:
    text = str(exc).removeprefix("ERROR: ").strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]
