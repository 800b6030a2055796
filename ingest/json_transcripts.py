"""JSON transcripts: Podcasting 2.0 (`segments` of `speaker`, `startTime`, `endTime`, `body`) and
Whisper / faster-whisper / WhisperX output (`segments` of `start`, `end`, `text`, maybe `speaker`).

Segments become caption fragments, re-flowed into sentences like any transcript. A change of
speaker starts a new turn, and the speaker's name opens the turn ("Ada: ...") so it is searchable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ingest.errors import IngestError
from ingest.loaders import humanize_stem, source_id
from ingest.reflow import Fragment, reflow
from kb.types import Chapter, Document

FORMATS_HELP = "expected `segments` with startTime/body (Podcasting 2.0) or start/text (Whisper)"


def load_json(path: Path, text: str) -> dict[str, Any]:
    """The top-level JSON object; IngestError when the file is not JSON or not an object."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IngestError(path, f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise IngestError(path, f"JSON {type(data).__name__} at the top, not an object ({FORMATS_HELP})")
    return data


def parse_json_transcript(path: Path, text: str) -> Document:
    """A Document from a Podcasting 2.0 or Whisper JSON transcript."""
    data = load_json(path, text)
    fragments = fragments_from(path, data)
    title = data.get("title") if isinstance(data.get("title"), str) and data["title"].strip() else humanize_stem(path.stem)
    return Document(source=source_id(path), title=title.strip(), path=str(path),
                    sentences=tuple(reflow(fragments)), kind="json")


def fragments_from(path: Path, data: dict[str, Any]) -> list[Fragment]:
    segments = data.get("segments")
    if not isinstance(segments, list):
        raise IngestError(path, f"JSON without a transcript ({FORMATS_HELP})")
    fragments: list[Fragment] = []
    prev_time: float | None = None
    prev_speaker: str | None = None
    for n, seg in enumerate(segments, 1):
        if not isinstance(seg, dict):
            raise IngestError(path, f"segment {n}: not an object")
        start, body = _start_and_text(path, n, seg)
        if prev_time is not None and start < prev_time:
            raise IngestError(path, f"segment {n}: start time {start:g} s goes backwards (previous segment at {prev_time:g} s)")
        prev_time = start
        speaker = seg.get("speaker")
        speaker = str(speaker).strip() if speaker not in (None, "") else None
        new_turn = speaker is not None and speaker != prev_speaker
        if new_turn:
            prev_speaker = speaker
            body = f"{speaker}: {body}" if body else body
        if body:
            fragments.append(Fragment(start, body, new_turn and bool(fragments)))
    return fragments


def _start_and_text(path: Path, n: int, seg: dict[str, Any]) -> tuple[float, str]:
    if "startTime" in seg or "body" in seg:  # Podcasting 2.0
        start, body = seg.get("startTime"), seg.get("body", "")
    else:  # Whisper and friends
        start, body = seg.get("start"), seg.get("text", "")
    try:
        start_s = float(start)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise IngestError(path, f"segment {n}: no numeric start time (startTime or start), got {start!r}") from None
    if start_s < 0:
        raise IngestError(path, f"segment {n}: negative start time {start_s:g}")
    return start_s, " ".join(str(body or "").split())


def is_chapters_json(data: dict[str, Any]) -> bool:
    return isinstance(data.get("chapters"), list) and "segments" not in data


def chapters_from(data: Any) -> tuple[Chapter, ...]:
    """Chapters from Podcasting 2.0 chapters JSON (`startTime`, `title`) or yt-dlp (`start_time`, `title`)."""
    items = data.get("chapters") if isinstance(data, dict) else data
    out: list[Chapter] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or item.get("toc") is False:
            continue
        start = item.get("startTime", item.get("start_time"))
        title = str(item.get("title") or "").strip()
        try:
            out.append(Chapter(float(start), title))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
    return tuple(sorted(out, key=lambda c: c.start_s))
