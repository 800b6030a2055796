"""Read a file from disk and hand it to the parser for its format, checking for bad input first."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from ingest.errors import IngestError
from kb.types import Document

SUPPORTED_SUFFIXES = (".txt", ".md", ".srt", ".vtt", ".json")


def is_companion(path: Path) -> bool:
    """A file that belongs to a `NAME.info.json` beside it (yt-dlp's captions): not a document itself."""
    from ingest.youtube import is_companion as companion

    return companion(path)


def read_text(path: Path) -> tuple[str, str]:
    """The file's text and its content hash; IngestError for missing, empty, binary or non-UTF-8 files."""
    if not path.exists():
        raise IngestError(path, "no such file or directory")
    if not path.is_file():
        raise IngestError(path, "not a regular file")
    data = path.read_bytes()
    if not data.strip():
        raise IngestError(path, "empty file")
    if b"\x00" in data[:8192]:
        raise IngestError(path, "binary file (contains NUL bytes), not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(
            path, f"not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None
    return text, hashlib.sha256(data).hexdigest()


def source_id(path: Path) -> str:
    """A document's id is its file stem."""
    return path.stem


def load_document(path: Path) -> Document:
    """Parse one file into a Document; raises IngestError naming the file and the reason."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise IngestError(
            path, f"unsupported file type {suffix or '(none)'!r} (supported: {', '.join(SUPPORTED_SUFFIXES)})"
        )
    text, digest = read_text(path)
    if suffix == ".srt":
        from ingest.subtitles import parse_srt

        doc = parse_srt(path, text)
    elif suffix == ".vtt":
        from ingest.subtitles import parse_vtt

        doc = parse_vtt(path, text)
    elif suffix == ".json":
        from ingest.json_transcripts import parse_json_transcript
        from ingest.youtube import is_info_json, parse_info_json

        doc = parse_info_json(path, text) if is_info_json(path) else parse_json_transcript(path, text)
    else:
        from ingest.text import parse_plain
        from ingest.transcripts import looks_like_transcript, parse_transcript

        doc = parse_transcript(path, text) if looks_like_transcript(text) else parse_plain(path, text)
    if not doc.sentences:
        raise IngestError(path, "no text found")
    return replace(doc, path=str(path.absolute()), content_hash=doc.content_hash or digest)


def humanize_stem(stem: str) -> str:
    """`podcast-compute-scaling-insights` -> `Podcast compute scaling insights`."""
    words = stem.replace("_", " ").replace("-", " ").split()
    return " ".join(words).capitalize() if words else stem
